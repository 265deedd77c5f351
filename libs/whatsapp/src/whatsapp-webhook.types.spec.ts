import fc from 'fast-check';
import { parseWhatsAppNotification, WhatsAppWebhookBody } from './whatsapp-webhook.types';

/** The inbound text shape Meta documents for the Cloud API. */
const inboundText = (): WhatsAppWebhookBody => ({
  object: 'whatsapp_business_account',
  entry: [
    {
      id: '102290129340398',
      changes: [
        {
          field: 'messages',
          value: {
            messaging_product: 'whatsapp',
            metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
            contacts: [{ profile: { name: 'Sheena Nelson' }, wa_id: '16505551234' }],
            messages: [
              {
                from: '16505551234',
                id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=',
                timestamp: '1749416383',
                type: 'text',
                text: { body: 'Does it come in another color?' },
              },
            ],
          },
        },
      ],
    },
  ],
});

const statusUpdate = {
  object: 'whatsapp_business_account',
  entry: [
    {
      id: '102290129340398',
      changes: [
        {
          field: 'messages',
          value: {
            messaging_product: 'whatsapp',
            metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
            statuses: [
              {
                id: 'wamid.sent-1',
                status: 'delivered',
                timestamp: '1750263773',
                recipient_id: '16505551234',
                conversation: { id: 'c1', origin: { type: 'service' } },
                pricing: { billable: true, pricing_model: 'PMP', category: 'service' },
              },
              {
                id: 'wamid.sent-2',
                status: 'failed',
                timestamp: '1750263774',
                recipient_id: '16505551234',
                errors: [
                  {
                    code: 131047,
                    title: 'Re-engagement message',
                    message: 'Re-engagement message',
                    error_data: { details: 'Message failed to send because more than 24 hours have passed.' },
                  },
                ],
              },
            ],
          },
        },
      ],
    },
  ],
};

/** Partner webhook: entry.id is the business portfolio, the WABA is in waba_info. */
const partnerAdded = (event = 'PARTNER_ADDED'): WhatsAppWebhookBody => ({
  object: 'whatsapp_business_account',
  entry: [
    {
      id: '35602282435505',
      time: 1731617831,
      changes: [
        {
          field: 'account_update',
          value: {
            event,
            waba_info: {
              waba_id: '495709166956424',
              owner_business_id: '2729063490586005',
              partner_app_id: '520744086200222',
            },
          },
        },
      ],
    },
  ],
});

describe('parseWhatsAppNotification', () => {
  it('reads an inbound text message', () => {
    expect(parseWhatsAppNotification(inboundText())).toEqual({
      messages: [
        {
          wabaId: '102290129340398',
          phoneNumberId: '106540352242922',
          displayPhoneNumber: '15550783881',
          from: '16505551234',
          messageId: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=',
          timestamp: '1749416383',
          sentAt: '2025-06-08T20:59:43.000Z',
          text: 'Does it come in another color?',
          type: 'text',
          profileName: 'Sheena Nelson',
        },
      ],
      statuses: [],
      partnerEvents: [],
    });
  });

  it('reads delivery statuses, with their errors', () => {
    const parsed = parseWhatsAppNotification(statusUpdate);
    expect(parsed.messages).toEqual([]);
    expect(parsed.statuses).toEqual([
      {
        wabaId: '102290129340398',
        phoneNumberId: '106540352242922',
        displayPhoneNumber: '15550783881',
        messageId: 'wamid.sent-1',
        status: 'delivered',
        recipientId: '16505551234',
        timestamp: '1750263773',
        sentAt: '2025-06-18T16:22:53.000Z',
        errors: [],
      },
      expect.objectContaining({
        messageId: 'wamid.sent-2',
        status: 'failed',
        errors: [{ code: 131047, title: 'Re-engagement message', message: 'Re-engagement message' }],
      }),
    ]);
  });

  it.each(['PARTNER_ADDED', 'PARTNER_APP_INSTALLED', 'PARTNER_REMOVED'])(
    'reads a %s partner event keyed on waba_info.waba_id, not entry.id',
    (event) => {
      expect(parseWhatsAppNotification(partnerAdded(event))).toEqual({
        messages: [],
        statuses: [],
        partnerEvents: [
          {
            event,
            wabaId: '495709166956424',
            ownerBusinessId: '2729063490586005',
            partnerAppId: '520744086200222',
            entryId: '35602282435505',
            time: 1731617831,
          },
        ],
      });
    },
  );

  it('keeps a partner event without owner_business_id or partner_app_id', () => {
    const body = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '1',
          changes: [
            { field: 'account_update', value: { event: 'PARTNER_ADDED', waba_info: { waba_id: '777' } } },
          ],
        },
      ],
    };
    expect(parseWhatsAppNotification(body).partnerEvents).toEqual([
      { event: 'PARTNER_ADDED', wabaId: '777', ownerBusinessId: null, entryId: '1', time: null },
    ]);
  });

  it('skips account updates that carry no WABA (e.g. other account events)', () => {
    const body = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '1',
          changes: [
            { field: 'account_update', value: { event: 'VERIFIED_ACCOUNT', phone_number: '15550783881' } },
            {
              field: 'account_update',
              value: { event: 'PARTNER_ADDED', waba_info: { owner_business_id: '2' } },
            },
            { field: 'account_update', value: { waba_info: { waba_id: '3' } } },
          ],
        },
      ],
    };
    expect(parseWhatsAppNotification(body).partnerEvents).toEqual([]);
  });

  it.each([
    [
      'a reply button',
      {
        type: 'interactive',
        interactive: { type: 'button_reply', button_reply: { id: 'b1', title: 'Comprar' } },
      },
      'Comprar',
    ],
    [
      'a list row',
      {
        type: 'interactive',
        interactive: { type: 'list_reply', list_reply: { id: 'r1', title: 'Alugar', description: 'x' } },
      },
      'Alugar',
    ],
    [
      'a template quick reply',
      { type: 'button', button: { payload: 'P', text: 'Falar com corretor' } },
      'Falar com corretor',
    ],
    ['an image', { type: 'image', image: { id: 'media-1', mime_type: 'image/jpeg', caption: 'foto' } }, null],
    ['an unsupported message', { type: 'unsupported', errors: [{ code: 131051 }] }, null],
  ])('gives the text of %s', (_what, fields, text) => {
    const body = inboundText() as unknown as {
      entry: { changes: { value: { messages: Record<string, unknown>[] } }[] }[];
    };
    const message = body.entry[0].changes[0].value.messages[0];
    delete message['text'];
    Object.assign(message, fields);
    const [parsed] = parseWhatsAppNotification(body).messages;
    expect(parsed).toMatchObject({ text, type: fields.type });
  });

  it('reads many entries, changes and messages in one delivery, in order', () => {
    const one = inboundText();
    const two = inboundText();
    two.entry[0].id = '999';
    const change = two.entry[0].changes[0];
    if (change.field !== 'messages') throw new Error('fixture');
    change.value.messages = [
      { from: '1', id: 'wamid.a', timestamp: '1', type: 'text', text: { body: 'a' } },
      { from: '2', id: 'wamid.b', timestamp: '2', type: 'text', text: { body: 'b' } },
    ];
    const body = { ...one, entry: [...one.entry, ...two.entry, ...partnerAdded().entry] };
    const parsed = parseWhatsAppNotification(body);
    expect(parsed.messages.map((m) => [m.wabaId, m.messageId, m.profileName])).toEqual([
      ['102290129340398', 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=', 'Sheena Nelson'],
      ['999', 'wamid.a', null],
      ['999', 'wamid.b', null],
    ]);
    expect(parsed.partnerEvents).toHaveLength(1);
  });

  it('accepts numeric ids from lenient senders', () => {
    const body = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: 102290129340398,
          changes: [
            {
              field: 'messages',
              value: {
                metadata: { phone_number_id: 106540352242922 },
                messages: [
                  {
                    from: 5511999990000,
                    id: 'wamid.x',
                    timestamp: 1749416383,
                    type: 'text',
                    text: { body: 'oi' },
                  },
                ],
              },
            },
          ],
        },
      ],
    };
    expect(parseWhatsAppNotification(body).messages).toEqual([
      expect.objectContaining({
        wabaId: '102290129340398',
        phoneNumberId: '106540352242922',
        from: '5511999990000',
        timestamp: '1749416383',
        displayPhoneNumber: null,
      }),
    ]);
  });

  it('skips what does not match and keeps the rest', () => {
    const good = inboundText().entry[0];
    const body = {
      object: 'whatsapp_business_account',
      entry: [
        null,
        'entry',
        { id: '1' },
        { id: '1', changes: 'nope' },
        {
          id: '1',
          changes: [
            null,
            { field: 'messages' },
            { field: 'messages', value: [] },
            { field: 'unknown_field', value: {} },
          ],
        },
        { changes: [good.changes[0]] },
        {
          id: '1',
          changes: [
            {
              field: 'messages',
              value: { metadata: {}, messages: [{ from: '1', id: 'x', timestamp: '1', type: 'text' }] },
            },
          ],
        },
        {
          id: '1',
          changes: [
            {
              field: 'messages',
              value: {
                metadata: { phone_number_id: '5' },
                messages: [
                  null,
                  { id: 'no-from', timestamp: '1' },
                  { from: '1', timestamp: '1' },
                  { from: '1', id: 'no-ts' },
                ],
                statuses: [{ id: 'no-status', timestamp: '1' }, { status: 'read', timestamp: '1' }, 7],
              },
            },
          ],
        },
        good,
      ],
    };
    const parsed = parseWhatsAppNotification(body);
    expect(parsed.messages.map((m) => m.messageId)).toEqual([
      'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=',
    ]);
    expect(parsed.statuses).toEqual([]);
    expect(parsed.partnerEvents).toEqual([]);
  });

  it('reads a message with a missing type as "unknown", without text', () => {
    const body = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '1',
          changes: [
            {
              field: 'messages',
              value: {
                metadata: { phone_number_id: '5' },
                messages: [{ from: '1', id: 'w', timestamp: 'soon' }],
              },
            },
          ],
        },
      ],
    };
    expect(parseWhatsAppNotification(body).messages).toEqual([
      expect.objectContaining({ type: 'unknown', text: null, sentAt: null }),
    ]);
  });

  it.each([
    null,
    undefined,
    'text',
    42,
    [],
    {},
    { object: 'page', entry: inboundText().entry },
    { object: 'whatsapp_business_account' },
  ])('gives empty lists for %j', (body) => {
    expect(parseWhatsAppNotification(body)).toEqual({ messages: [], statuses: [], partnerEvents: [] });
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), (anything) => {
        parseWhatsAppNotification(anything);
        parseWhatsAppNotification({ object: 'whatsapp_business_account', entry: [anything] });
        parseWhatsAppNotification({
          object: 'whatsapp_business_account',
          entry: [{ id: '1', changes: [{ field: 'messages', value: anything }] }],
        });
        parseWhatsAppNotification({
          object: 'whatsapp_business_account',
          entry: [{ id: '1', changes: [{ field: 'account_update', value: anything }] }],
        });
      }),
    );
  });
});

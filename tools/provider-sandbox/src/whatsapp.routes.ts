import { ProviderErrorResponse, graphError, graphInvalidParameter } from './errors';
import { GraphCall, graphCursorPage, project, requestedFields } from './graph';
import { RouteResult, SandboxContext, ok } from './http';
import { metaJsonStringify, metaSignature256Header, metaSignatureSha1Header } from './signing';
import {
  formatGraphTime,
  isRecord,
  numericIdFrom,
  randomAlphanumeric,
  readNonEmptyString,
  readString,
  unixSeconds,
} from './util';
import { NotifiedSummary, OutgoingWebhook } from './webhook-poster';

/** The partner (our) business portfolio, which Meta uses as `entry.id` of partner events. */
export const META_PARTNER_BUSINESS_ID = '100000000000001';
export const META_SANDBOX_APP_ID = '1000000000000001';
const TOKEN_LIFETIME_S = 5_184_000; // 60 days, what Graph answers for the code exchange.
const WHATSAPP_SCOPES = [
  'whatsapp_business_management',
  'whatsapp_business_messaging',
  'business_management',
];
/** Codes following this convention exchange without being minted first (handy for demos and the app). */
export const SANDBOX_CODE_PREFIX = 'sandbox-code-';

interface TokenRecord {
  token: string;
  appId: string;
  userId: string;
  issuedAt: number;
  /** Unix seconds; 0 = never expires. */
  expiresAt: number;
  isValid: boolean;
  scopes: string[];
  wabaIds: string[];
}

interface CodeRecord {
  used: boolean;
  /** Seconds the exchanged token lives; null = never expires (system-user token). */
  expiresIn: number | null;
  wabaId?: string;
}

interface PhoneNumber {
  id: string;
  displayPhoneNumber: string;
  verifiedName: string;
  wabaId: string;
  registered: boolean;
}

interface Waba {
  id: string;
  phoneNumbers: PhoneNumber[];
  subscribedApps: Set<string>;
}

export interface SentMessage {
  id: string;
  phoneNumberId: string;
  to: string;
  type: string;
  text: string | null;
  payload: Record<string, unknown>;
  at: string;
}

export interface MintCodeInput {
  code?: string;
  expiresIn?: number | null;
  wabaId?: string;
  phoneNumberId?: string;
  displayPhoneNumber?: string;
  verifiedName?: string;
}

export interface InboundInput {
  phoneNumberId: string;
  from: string;
  text: string;
  messageId?: string;
  wabaId?: string;
  displayPhoneNumber?: string;
  profileName?: string;
  count?: number;
}

export interface PartnerEventInput {
  wabaId: string;
  ownerBusinessId: string;
  event?: string;
  partnerAppId?: string;
  entryId?: string;
  count?: number;
}

export interface StatusInput {
  messageId: string;
  status: 'sent' | 'delivered' | 'read' | 'failed';
  phoneNumberId?: string;
  recipientId?: string;
  count?: number;
}

export interface WebhookAnswer {
  payload: Record<string, unknown>;
  notified: NotifiedSummary;
}

function digitsOnly(text: string): string {
  return text.replace(/\D/g, '');
}

function defaultDisplayNumber(phoneNumberId: string): string {
  const digits = numericIdFrom(`display:${phoneNumberId}`, 9).slice(1);
  return `+55 11 9${digits.slice(0, 4)}-${digits.slice(4, 8)}`;
}

/**
 * WhatsApp Cloud API and Embedded Signup: code exchange, debug_token, WABAs and their phone
 * numbers, sending messages, and the signed `messages` / `account_update` webhooks.
 */
export class WhatsAppSandbox {
  private tokens = new Map<string, TokenRecord>();
  private codes = new Map<string, CodeRecord>();
  private wabas = new Map<string, Waba>();
  private phoneToWaba = new Map<string, string>();
  private sent: SentMessage[] = [];

  constructor(private readonly ctx: SandboxContext) {}

  reset(): void {
    this.tokens = new Map();
    this.codes = new Map();
    this.wabas = new Map();
    this.phoneToWaba = new Map();
    this.sent = [];
  }

  // ---- tokens ---------------------------------------------------------------------------------

  /** A token the sandbox knows to be invalid or expired fails every Graph call, as Graph does. */
  tokenProblem(token: string): ProviderErrorResponse | undefined {
    const record = this.tokens.get(token);
    if (record === undefined) return undefined;
    const problem = this.invalidity(record);
    return problem === undefined
      ? undefined
      : graphError(400, 190, problem.message, { subcode: problem.subcode });
  }

  private invalidity(record: TokenRecord): { message: string; subcode: number } | undefined {
    const now = unixSeconds(this.ctx.now());
    if (!record.isValid) {
      return {
        message:
          'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.',
        subcode: 460,
      };
    }
    if (record.expiresAt !== 0 && record.expiresAt <= now) {
      return {
        message: `Error validating access token: Session has expired on ${formatGraphTime(new Date(record.expiresAt * 1000))}. The current time is ${formatGraphTime(this.ctx.now())}.`,
        subcode: 463,
      };
    }
    return undefined;
  }

  exchangeCode(params: Record<string, unknown>): RouteResult {
    const clientId = readNonEmptyString(params, 'client_id');
    if (clientId === undefined) return graphError(400, 101, 'Missing client_id parameter.');
    if (readNonEmptyString(params, 'client_secret') === undefined) {
      return graphError(400, 1, 'Missing client_secret parameter.');
    }
    const code = readNonEmptyString(params, 'code');
    if (code === undefined)
      return graphError(400, 100, 'Invalid verification code format.', { subcode: 36008 });
    let record = this.codes.get(code);
    if (record === undefined && code.startsWith(SANDBOX_CODE_PREFIX)) {
      record = { used: false, expiresIn: TOKEN_LIFETIME_S };
      this.codes.set(code, record);
    }
    if (record === undefined) {
      return graphError(400, 100, 'Invalid verification code format.', { subcode: 36008 });
    }
    if (record.used)
      return graphError(400, 100, 'This authorization code has been used.', { subcode: 36009 });
    record.used = true;
    const now = unixSeconds(this.ctx.now());
    const token: TokenRecord = {
      token: `EAAG${randomAlphanumeric(160)}`,
      appId: clientId,
      userId: numericIdFrom(`system-user:${clientId}`, 15),
      issuedAt: now,
      expiresAt: record.expiresIn === null ? 0 : now + record.expiresIn,
      isValid: true,
      scopes: [...WHATSAPP_SCOPES],
      wabaIds: record.wabaId === undefined ? [] : [record.wabaId],
    };
    this.tokens.set(token.token, token);
    const answer: Record<string, unknown> = { access_token: token.token, token_type: 'bearer' };
    if (record.expiresIn !== null) answer['expires_in'] = record.expiresIn;
    return ok(answer);
  }

  debugToken(params: Record<string, unknown>): RouteResult {
    const input = readNonEmptyString(params, 'input_token');
    if (input === undefined) return graphInvalidParameter('The parameter input_token is required');
    return ok({ data: this.debugData(input) });
  }

  private debugData(input: string): Record<string, unknown> {
    const record = this.tokens.get(input);
    if (record === undefined) {
      return {
        error: { code: 190, message: 'Invalid OAuth access token - Cannot parse access token', subcode: 467 },
        is_valid: false,
        scopes: [],
      };
    }
    const problem = this.invalidity(record);
    const data: Record<string, unknown> = {
      app_id: record.appId,
      type: 'SYSTEM_USER',
      application: 'RealApp Sandbox',
      data_access_expires_at: record.expiresAt === 0 ? 0 : record.expiresAt + 30 * 24 * 3600,
      expires_at: record.expiresAt,
      is_valid: problem === undefined,
      issued_at: record.issuedAt,
      scopes: [...record.scopes],
      granular_scopes: record.scopes.map((scope) =>
        scope === 'business_management' || record.wabaIds.length === 0
          ? { scope }
          : { scope, target_ids: [...record.wabaIds] },
      ),
      user_id: record.userId,
    };
    if (problem !== undefined)
      data['error'] = { code: 190, message: problem.message, subcode: problem.subcode };
    return data;
  }

  mintCode(input: MintCodeInput): { code: string; expiresIn: number | null } {
    const code = input.code ?? `${SANDBOX_CODE_PREFIX}${randomAlphanumeric(24)}`;
    const expiresIn = input.expiresIn === undefined ? TOKEN_LIFETIME_S : input.expiresIn;
    const record: CodeRecord = { used: false, expiresIn };
    if (input.wabaId !== undefined) {
      record.wabaId = input.wabaId;
      const waba = this.ensureWaba(input.wabaId, input.phoneNumberId === undefined);
      if (input.phoneNumberId !== undefined) {
        this.addPhoneNumber(waba, input.phoneNumberId, input.displayPhoneNumber, input.verifiedName);
      }
    }
    this.codes.set(code, record);
    return { code, expiresIn };
  }

  /** Sets what debug_token (and every Graph call) says about a token, issued or not. */
  setToken(
    token: string,
    change: { isValid?: boolean; expiresAt?: number; scopes?: string[] },
  ): Record<string, unknown> {
    let record = this.tokens.get(token);
    if (record === undefined) {
      const now = unixSeconds(this.ctx.now());
      record = {
        token,
        appId: META_SANDBOX_APP_ID,
        userId: numericIdFrom(`system-user:${token}`, 15),
        issuedAt: now,
        expiresAt: 0,
        isValid: true,
        scopes: [...WHATSAPP_SCOPES],
        wabaIds: [],
      };
      this.tokens.set(token, record);
    }
    if (change.isValid !== undefined) record.isValid = change.isValid;
    if (change.expiresAt !== undefined) record.expiresAt = change.expiresAt;
    if (change.scopes !== undefined) record.scopes = [...change.scopes];
    return { data: this.debugData(token) };
  }

  // ---- WABAs and phone numbers ----------------------------------------------------------------

  private ensureWaba(wabaId: string, withDefaultNumber = true): Waba {
    let waba = this.wabas.get(wabaId);
    if (waba === undefined) {
      waba = { id: wabaId, phoneNumbers: [], subscribedApps: new Set() };
      this.wabas.set(wabaId, waba);
      if (withDefaultNumber) this.addPhoneNumber(waba, numericIdFrom(`phone:${wabaId}`, 15));
    }
    return waba;
  }

  addPhoneNumber(waba: Waba, id: string, displayPhoneNumber?: string, verifiedName?: string): PhoneNumber {
    const existing = waba.phoneNumbers.find((phone) => phone.id === id);
    if (existing !== undefined) {
      if (displayPhoneNumber !== undefined) existing.displayPhoneNumber = displayPhoneNumber;
      if (verifiedName !== undefined) existing.verifiedName = verifiedName;
      return existing;
    }
    const previousWaba = this.phoneToWaba.get(id);
    if (previousWaba !== undefined && previousWaba !== waba.id) {
      const previous = this.wabas.get(previousWaba);
      if (previous !== undefined)
        previous.phoneNumbers = previous.phoneNumbers.filter((phone) => phone.id !== id);
    }
    const phone: PhoneNumber = {
      id,
      displayPhoneNumber: displayPhoneNumber ?? defaultDisplayNumber(id),
      verifiedName: verifiedName ?? 'RealApp Sandbox',
      wabaId: waba.id,
      registered: false,
    };
    waba.phoneNumbers.push(phone);
    this.phoneToWaba.set(id, waba.id);
    return phone;
  }

  registerPhoneNumber(
    wabaId: string,
    input: { id?: string; displayPhoneNumber?: string; verifiedName?: string },
  ): Record<string, unknown> {
    const waba = this.ensureWaba(wabaId, false);
    const phone = this.addPhoneNumber(
      waba,
      input.id ?? numericIdFrom(`phone:${wabaId}:${waba.phoneNumbers.length}`, 15),
      input.displayPhoneNumber,
      input.verifiedName,
    );
    return this.phoneView(phone);
  }

  /** The phone number behind an id, created on first sight so any id the platform stored works. */
  private phoneNumber(phoneNumberId: string, wabaId?: string, displayPhoneNumber?: string): PhoneNumber {
    const knownWaba = this.phoneToWaba.get(phoneNumberId);
    const targetWabaId = wabaId ?? knownWaba ?? numericIdFrom(`waba-of:${phoneNumberId}`, 15);
    const waba = this.ensureWaba(targetWabaId, false);
    return this.addPhoneNumber(waba, phoneNumberId, displayPhoneNumber);
  }

  private phoneView(phone: PhoneNumber): Record<string, unknown> {
    return {
      verified_name: phone.verifiedName,
      code_verification_status: 'VERIFIED',
      display_phone_number: phone.displayPhoneNumber,
      quality_rating: 'GREEN',
      platform_type: 'CLOUD_API',
      throughput: { level: 'STANDARD' },
      id: phone.id,
    };
  }

  // ---- Graph dispatch -------------------------------------------------------------------------

  /** Graph `/<id>` for WhatsApp objects the sandbox knows; undefined when the id is not one of them. */
  handleNode(call: GraphCall): RouteResult | undefined {
    if (call.method !== 'GET') return undefined;
    const wabaId = this.phoneToWaba.get(call.node);
    if (wabaId !== undefined) {
      const phone = this.wabas.get(wabaId)?.phoneNumbers.find((candidate) => candidate.id === call.node);
      if (phone !== undefined) return ok(project(this.phoneView(phone), requestedFields(call.params)));
    }
    const waba = this.wabas.get(call.node);
    if (waba !== undefined) {
      return ok(
        project(
          {
            id: waba.id,
            name: 'RealApp Sandbox WABA',
            currency: 'BRL',
            timezone_id: '25',
            message_template_namespace: `sandbox_${waba.id}`,
          },
          requestedFields(call.params),
        ),
      );
    }
    return undefined;
  }

  handleEdge(call: GraphCall, edge: string, edgeUrl: string): RouteResult | undefined {
    switch (edge) {
      case 'phone_numbers':
        return call.method === 'GET' ? this.listPhoneNumbers(call, edgeUrl) : undefined;
      case 'subscribed_apps':
        return this.subscribedApps(call);
      case 'register':
        return call.method === 'POST' ? this.register(call) : undefined;
      case 'messages':
        return call.method === 'POST' ? this.sendMessage(call) : undefined;
      default:
        return undefined;
    }
  }

  private listPhoneNumbers(call: GraphCall, edgeUrl: string): RouteResult {
    const waba = this.ensureWaba(call.node);
    const fields = requestedFields(call.params);
    const page = graphCursorPage(
      waba.phoneNumbers.map((phone) => project(this.phoneView(phone), fields)),
      call.params,
      edgeUrl,
    );
    return ok(page);
  }

  private subscribedApps(call: GraphCall): RouteResult {
    const waba = this.ensureWaba(call.node);
    const appId = this.appIdOf(call.token);
    if (call.method === 'POST') {
      waba.subscribedApps.add(appId);
      return ok({ success: true });
    }
    if (call.method === 'DELETE') {
      waba.subscribedApps.delete(appId);
      return ok({ success: true });
    }
    return ok({
      data: [...waba.subscribedApps].map((id) => ({
        whatsapp_business_api_data: {
          id,
          link: `https://www.facebook.com/games/?app_id=${id}`,
          name: 'RealApp',
        },
      })),
    });
  }

  private appIdOf(token: string | undefined): string {
    return (token === undefined ? undefined : this.tokens.get(token)?.appId) ?? META_SANDBOX_APP_ID;
  }

  private register(call: GraphCall): RouteResult {
    if (call.params['messaging_product'] !== 'whatsapp') {
      return graphInvalidParameter('The parameter messaging_product is required.');
    }
    const pin = call.params['pin'];
    if ((typeof pin !== 'string' && typeof pin !== 'number') || !/^\d{6}$/.test(String(pin))) {
      return graphInvalidParameter('Param pin must be a 6-digit number.');
    }
    this.phoneNumber(call.node).registered = true;
    return ok({ success: true });
  }

  private sendMessage(call: GraphCall): RouteResult {
    const params = call.params;
    if (params['messaging_product'] !== 'whatsapp') {
      return graphInvalidParameter('The parameter messaging_product is required.');
    }
    // Marking a received message as read shares the endpoint.
    if (params['status'] === 'read') {
      if (readNonEmptyString(params, 'message_id') === undefined) {
        return graphInvalidParameter('The parameter message_id is required.');
      }
      return ok({ success: true });
    }
    const to = readNonEmptyString(params, 'to');
    if (to === undefined) return graphInvalidParameter('The parameter to is required.');
    const type = readNonEmptyString(params, 'type') ?? 'text';
    let text: string | null = null;
    if (type === 'text') {
      const body = isRecord(params['text']) ? readString(params['text'], 'body') : undefined;
      if (body === undefined || body === '')
        return graphInvalidParameter("The parameter text['body'] is required.");
      if (body.length > 4096)
        return graphInvalidParameter("Param text['body'] must be at most 4096 characters long.");
      text = body;
    } else if (!isRecord(params[type])) {
      return graphInvalidParameter(`The parameter ${type} is required.`);
    }
    const phone = this.phoneNumber(call.node);
    const id = `wamid.HBgM${randomAlphanumeric(40)}`;
    const payload: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(params)) {
      if (key !== 'access_token' && key !== 'appsecret_proof') payload[key] = value;
    }
    this.sent.push({
      id,
      phoneNumberId: phone.id,
      to,
      type,
      text,
      payload,
      at: this.ctx.now().toISOString(),
    });
    if (this.sent.length > 5000) this.sent.splice(0, this.sent.length - 5000);
    return ok({
      messaging_product: 'whatsapp',
      contacts: [{ input: to, wa_id: digitsOnly(to) || to }],
      messages: [{ id }],
    });
  }

  sentMessages(filter: { phoneNumberId?: string; to?: string; limit?: number }): SentMessage[] {
    const out: SentMessage[] = [];
    for (let i = this.sent.length - 1; i >= 0 && out.length < (filter.limit ?? 100); i -= 1) {
      const message = this.sent[i];
      if (filter.phoneNumberId !== undefined && message.phoneNumberId !== filter.phoneNumberId) continue;
      if (filter.to !== undefined && digitsOnly(message.to) !== digitsOnly(filter.to)) continue;
      out.push(message);
    }
    return out;
  }

  // ---- signed webhooks ------------------------------------------------------------------------

  async postInbound(input: InboundInput): Promise<WebhookAnswer & { messageId: string; wabaId: string }> {
    const phone = this.phoneNumber(input.phoneNumberId, input.wabaId, input.displayPhoneNumber);
    const messageId = input.messageId ?? `wamid.HBgM${randomAlphanumeric(40)}`;
    const payload = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: phone.wabaId,
          changes: [
            {
              value: {
                messaging_product: 'whatsapp',
                metadata: {
                  display_phone_number: digitsOnly(phone.displayPhoneNumber),
                  phone_number_id: phone.id,
                },
                contacts: [{ profile: { name: input.profileName ?? 'Sandbox Customer' }, wa_id: input.from }],
                messages: [
                  {
                    from: input.from,
                    id: messageId,
                    timestamp: String(unixSeconds(this.ctx.now())),
                    text: { body: input.text },
                    type: 'text',
                  },
                ],
              },
              field: 'messages',
            },
          ],
        },
      ],
    };
    const notified = await this.post(payload, input.count ?? 1);
    return { messageId, wabaId: phone.wabaId, payload, notified };
  }

  async postStatus(input: StatusInput): Promise<WebhookAnswer | undefined> {
    const sent = this.sent.find((message) => message.id === input.messageId);
    const phoneNumberId = input.phoneNumberId ?? sent?.phoneNumberId;
    const recipientId = input.recipientId ?? (sent === undefined ? undefined : digitsOnly(sent.to));
    if (phoneNumberId === undefined || recipientId === undefined) return undefined;
    const phone = this.phoneNumber(phoneNumberId);
    const status: Record<string, unknown> = {
      id: input.messageId,
      status: input.status,
      timestamp: String(unixSeconds(this.ctx.now())),
      recipient_id: recipientId,
    };
    if (input.status === 'failed') {
      status['errors'] = [
        {
          code: 131026,
          title: 'Message undeliverable',
          message: 'Message undeliverable',
          error_data: { details: 'Message could not be delivered (sandbox).' },
        },
      ];
    }
    const payload = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: phone.wabaId,
          changes: [
            {
              value: {
                messaging_product: 'whatsapp',
                metadata: {
                  display_phone_number: digitsOnly(phone.displayPhoneNumber),
                  phone_number_id: phone.id,
                },
                statuses: [status],
              },
              field: 'messages',
            },
          ],
        },
      ],
    };
    return { payload, notified: await this.post(payload, input.count ?? 1) };
  }

  async postPartnerEvent(input: PartnerEventInput): Promise<WebhookAnswer> {
    this.ensureWaba(input.wabaId);
    const payload = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: input.entryId ?? META_PARTNER_BUSINESS_ID,
          time: unixSeconds(this.ctx.now()),
          changes: [
            {
              value: {
                event: input.event ?? 'PARTNER_ADDED',
                waba_info: {
                  waba_id: input.wabaId,
                  owner_business_id: input.ownerBusinessId,
                  partner_app_id: input.partnerAppId ?? META_SANDBOX_APP_ID,
                },
              },
              field: 'account_update',
            },
          ],
        },
      ],
    };
    return { payload, notified: await this.post(payload, input.count ?? 1) };
  }

  private post(payload: Record<string, unknown>, count: number): Promise<NotifiedSummary> {
    const rawBody = metaJsonStringify(payload);
    const secret = this.ctx.settings.metaAppSecret;
    const webhook: OutgoingWebhook = {
      url: `${this.ctx.settings.webhookBaseUrl}/v1/webhooks/meta`,
      rawBody,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'facebookexternalua',
        'x-hub-signature': metaSignatureSha1Header(secret, rawBody),
        'x-hub-signature-256': metaSignature256Header(secret, rawBody),
      },
    };
    return this.ctx.poster.postMany(count, () => webhook);
  }
}

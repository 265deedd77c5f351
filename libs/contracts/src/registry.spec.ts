import { randomUUID } from 'node:crypto';
import { EVENTS } from './events';

describe('EventRegistry.dataProblems', () => {
  const approved = (): Record<string, unknown> => ({
    topupId: randomUUID(),
    tenantId: randomUUID(),
    amountCents: 5000,
    provider: 'mercadopago',
  });

  it('accepts a payload as its producer writes it', () => {
    expect(EVENTS.dataProblems('billing.topup.approved', approved())).toEqual([]);
  });

  it('names each field that breaks a rule, and every unknown field', () => {
    const problems = EVENTS.dataProblems('billing.topup.approved', {
      ...approved(),
      tenantId: 'not-a-uuid',
      amountCents: 12.5,
      extra: true,
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^data\.tenantId: /),
        expect.stringMatching(/^data\.amountCents: /),
        expect.stringMatching(/^data\.extra: /),
      ]),
    );
    expect(problems).toHaveLength(3);
  });

  it('validates a payload carrying a __proto__ key against its own schema (the key cannot swap it)', () => {
    const withProto = (amount: string): Record<string, unknown> =>
      JSON.parse(
        `{"topupId":"${randomUUID()}","tenantId":"${randomUUID()}","amountCents":${amount},"provider":"stripe","__proto__":{"constructor":null}}`,
      ) as Record<string, unknown>;
    expect(EVENTS.dataProblems('billing.topup.approved', withProto('1'))).toEqual([]);
    expect(EVENTS.dataProblems('billing.topup.approved', withProto('"x"'))).toEqual([
      expect.stringMatching(/^data\.amountCents: /),
    ]);
  });
});

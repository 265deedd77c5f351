import { AI_DEFAULT_LIMITS, AiGuardrailInput, decideAiReply } from './ai-guardrails';

const anInput = (overrides: Partial<AiGuardrailInput> = {}): AiGuardrailInput => ({
  apiKeyConfigured: true,
  tenantCallsToday: 0,
  senderCallsLastMinute: 0,
  ...overrides,
});

describe('decideAiReply', () => {
  it('defaults to the seed’s limits: 500 per tenant per day, 6 per sender per minute', () => {
    expect(AI_DEFAULT_LIMITS).toEqual({ maxPerTenantPerDay: 500, maxPerSenderPerMinute: 6 });
  });

  it('allows a call under both limits', () => {
    expect(decideAiReply(anInput())).toEqual({ useAi: true });
    expect(decideAiReply(anInput({ tenantCallsToday: 499, senderCallsLastMinute: 5 }))).toEqual({
      useAi: true,
    });
  });

  it('never uses AI without a key, whatever the counts', () => {
    expect(decideAiReply(anInput({ apiKeyConfigured: false }))).toEqual({
      useAi: false,
      reason: 'no_api_key',
    });
    expect(decideAiReply(anInput({ apiKeyConfigured: false, tenantCallsToday: 10_000 }))).toEqual({
      useAi: false,
      reason: 'no_api_key',
    });
  });

  it.each([500, 501, 10_000])('stops at the tenant’s daily limit (%i calls made)', (tenantCallsToday) => {
    expect(decideAiReply(anInput({ tenantCallsToday }))).toEqual({
      useAi: false,
      reason: 'tenant_daily_limit',
    });
  });

  it.each([6, 7, 100])('stops at the sender’s per-minute limit (%i calls made)', (senderCallsLastMinute) => {
    expect(decideAiReply(anInput({ senderCallsLastMinute }))).toEqual({
      useAi: false,
      reason: 'sender_minute_limit',
    });
  });

  it('reports the tenant limit before the sender limit when both are reached', () => {
    expect(decideAiReply(anInput({ tenantCallsToday: 500, senderCallsLastMinute: 6 }))).toEqual({
      useAi: false,
      reason: 'tenant_daily_limit',
    });
  });

  it('honours configured limits, and 0 switches AI off', () => {
    expect(decideAiReply(anInput({ tenantCallsToday: 9, maxPerTenantPerDay: 10 }))).toEqual({ useAi: true });
    expect(decideAiReply(anInput({ tenantCallsToday: 10, maxPerTenantPerDay: 10 }))).toMatchObject({
      useAi: false,
    });
    expect(decideAiReply(anInput({ maxPerTenantPerDay: 0 }))).toEqual({
      useAi: false,
      reason: 'tenant_daily_limit',
    });
    expect(decideAiReply(anInput({ senderCallsLastMinute: 1, maxPerSenderPerMinute: 1 }))).toEqual({
      useAi: false,
      reason: 'sender_minute_limit',
    });
    expect(decideAiReply(anInput({ tenantCallsToday: 1e9, maxPerTenantPerDay: Infinity }))).toEqual({
      useAi: true,
    });
  });

  it.each([Number.NaN, -1, Infinity])('fails closed on a nonsensical count (%p)', (count) => {
    expect(decideAiReply(anInput({ tenantCallsToday: count }))).toEqual({
      useAi: false,
      reason: 'tenant_daily_limit',
    });
    expect(decideAiReply(anInput({ senderCallsLastMinute: count }))).toEqual({
      useAi: false,
      reason: 'sender_minute_limit',
    });
  });
});

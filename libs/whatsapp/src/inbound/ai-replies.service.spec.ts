import { counterKeys } from './ai-replies.service';

describe('counterKeys', () => {
  const tenantId = '5d0c3c1e-8a4f-4f5e-9a51-0b1a2b3c4d5e';

  it('keys the tenant budget by UTC day and the sender budget by UTC minute', () => {
    const keys = counterKeys(tenantId, '5511999990000', new Date('2026-11-24T23:59:59.999Z'));
    expect(keys.tenantKey).toBe(`whatsapp:ai:tenant:${tenantId}:20261124`);
    expect(keys.senderKey).toMatch(/^whatsapp:ai:sender:[0-9a-f]{24}:202611242359$/);
  });

  it('starts new windows at the next minute and the next day', () => {
    const before = counterKeys(tenantId, '5511999990000', new Date('2026-11-24T23:59:59.999Z'));
    const after = counterKeys(tenantId, '5511999990000', new Date('2026-11-25T00:00:00.000Z'));
    expect(after.tenantKey).not.toBe(before.tenantKey);
    expect(after.senderKey).not.toBe(before.senderKey);
  });

  it('keeps the phone number out of Redis and apart per tenant', () => {
    const at = new Date('2026-11-24T12:00:00Z');
    const a = counterKeys(tenantId, '5511999990000', at).senderKey;
    expect(a).not.toContain('5511999990000');
    expect(counterKeys('6e1d4d2f-9b5a-4a6f-8b62-1c2b3d4e5f60', '5511999990000', at).senderKey).not.toBe(a);
    expect(counterKeys(tenantId, '5511999990001', at).senderKey).not.toBe(a);
  });
});

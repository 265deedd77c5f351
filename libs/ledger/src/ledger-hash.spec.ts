import { canonicalEntry, entryHash, GENESIS_HASH, HashedFields } from './ledger-hash';

const entry: HashedFields = {
  tenantId: '6f1c2f55-9a53-4b1e-9d0e-0e6b5a3c1f00',
  seq: 1,
  kind: 'topup',
  amountCents: 3000,
  heldDeltaCents: 0,
  balanceAfterCents: 3000,
  heldAfterCents: 0,
  reference: 'mercadopago:123:topup',
  createdAt: new Date('2026-11-24T12:00:00.123Z'),
};

describe('ledger hash chain', () => {
  it('hashes a fixed canonical text (a change of format would break every stored chain)', () => {
    expect(canonicalEntry(entry)).toBe(
      '["6f1c2f55-9a53-4b1e-9d0e-0e6b5a3c1f00",1,"topup",3000,0,3000,0,"mercadopago:123:topup","2026-11-24T12:00:00.123Z"]',
    );
    expect(entryHash(GENESIS_HASH, entry)).toMatch(/^[0-9a-f]{64}$/);
    expect(entryHash(GENESIS_HASH, entry)).toBe(entryHash(GENESIS_HASH, { ...entry }));
  });

  it.each<[string, Partial<HashedFields>]>([
    ['tenant', { tenantId: '6f1c2f55-9a53-4b1e-9d0e-0e6b5a3c1f01' }],
    ['seq', { seq: 2 }],
    ['kind', { kind: 'adjustment' }],
    ['amount', { amountCents: 3001 }],
    ['held delta', { heldDeltaCents: 1 }],
    ['balance after', { balanceAfterCents: 2999 }],
    ['held after', { heldAfterCents: 1 }],
    ['reference', { reference: 'mercadopago:124:topup' }],
    ['created at', { createdAt: new Date('2026-11-24T12:00:00.124Z') }],
  ])('changes when the %s changes', (_field, change) => {
    expect(entryHash(GENESIS_HASH, { ...entry, ...change })).not.toBe(entryHash(GENESIS_HASH, entry));
  });

  it('chains: the same entry after another previous hash hashes differently', () => {
    const first = entryHash(GENESIS_HASH, entry);
    expect(entryHash(first, { ...entry, seq: 2 })).not.toBe(entryHash(GENESIS_HASH, { ...entry, seq: 2 }));
  });
});

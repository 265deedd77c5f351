import { newIdempotencyKey } from './idempotency';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** What the services accept as an Idempotency-Key. */
const KEY_PATTERN = /^[A-Za-z0-9._:-]{1,255}$/;

describe('newIdempotencyKey', () => {
  it('uses crypto.randomUUID when the runtime has it', () => {
    expect(newIdempotencyKey({ randomUUID: () => 'from-random-uuid' })).toBe('from-random-uuid');
    expect(newIdempotencyKey()).toMatch(UUID_V4);
  });

  it('builds a v4 UUID from getRandomValues without randomUUID (older Hermes with a polyfill)', () => {
    const getRandomValues = jest.fn((bytes: Uint8Array) => bytes.fill(0xff));
    const key = newIdempotencyKey({ getRandomValues });
    expect(getRandomValues).toHaveBeenCalledTimes(1);
    expect(key).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
  });

  it('still makes distinct, valid keys with no crypto at all', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => newIdempotencyKey({})));
    expect(keys.size).toBe(1000);
    for (const key of keys) {
      expect(key).toMatch(UUID_V4);
      expect(key).toMatch(KEY_PATTERN);
    }
  });
});

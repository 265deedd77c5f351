import { isUUID } from 'class-validator';
import { uuidV7 } from './uuid-v7';

describe('uuidV7', () => {
  it('is a version 7, variant 1 UUID that validators accept', () => {
    const id = uuidV7();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(isUUID(id)).toBe(true);
  });

  it('carries the millisecond timestamp in its first 48 bits, so ids sort by time', () => {
    const at = Date.UTC(2026, 10, 24, 12, 0, 0, 123);
    expect(parseInt(uuidV7(at).replace(/-/g, '').slice(0, 12), 16)).toBe(at);
    const ids = [uuidV7(at), uuidV7(at + 1), uuidV7(at + 1000), uuidV7(at + 86_400_000)];
    expect([...ids].sort()).toEqual(ids);
  });

  it('does not repeat', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => uuidV7(1_700_000_000_000)));
    expect(ids.size).toBe(10_000);
  });
});

import { AppError } from './app-error';
import { CursorKey, decodeCursor, encodeCursor, toPage } from './pagination';

const ID = '0b6f5a52-3c1e-4d8a-9f2e-6a7b8c9d0e1f';
const raw = (value: unknown): string => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

function refusal(cursor: string, key?: CursorKey): AppError {
  try {
    decodeCursor(cursor, key);
  } catch (error) {
    return error as AppError;
  }
  throw new Error(`cursor ${cursor} was accepted`);
}

describe('decodeCursor', () => {
  it('reads no cursor as the first page', () => {
    expect(decodeCursor(undefined)).toBeNull();
  });

  it.each([
    ['milliseconds (toISOString)', '2026-01-01T12:34:56.789Z'],
    ['microseconds (to_char … US)', '2026-01-01T12:34:56.789123Z'],
    ['whole seconds', '2026-01-01T00:00:00Z'],
    ['a leap day', '2024-02-29T23:59:59.999Z'],
    ['the first year PostgreSQL takes', '0001-01-01T00:00:00.000Z'],
  ])('round-trips a cursor whose time is %s', (_, at) => {
    expect(decodeCursor(encodeCursor({ at, id: ID }))).toEqual({ at, id: ID });
  });

  it('round-trips what toPage writes', () => {
    const rows = [
      { at: new Date('2026-03-04T05:06:07.089Z'), id: ID },
      { at: new Date('2026-03-04T05:06:07.000Z'), id: 'ffffffff-ffff-ffff-ffff-ffffffffffff' },
    ];
    const page = toPage(
      rows,
      1,
      (r) => ({ at: r.at.toISOString(), id: r.id }),
      (r) => r.id,
    );
    expect(decodeCursor(page.nextCursor ?? undefined)).toEqual({ at: '2026-03-04T05:06:07.089Z', id: ID });
  });

  it('accepts upper-case UUIDs, as PostgreSQL does', () => {
    expect(decodeCursor(raw(['2026-01-01T00:00:00Z', ID.toUpperCase()]))?.id).toBe(ID.toUpperCase());
  });

  it('reads a sequence key where the list asks for one, and only then', () => {
    const cursor = encodeCursor({ at: '2026-01-01T00:00:00.000Z', id: '42' });
    expect(decodeCursor(cursor, 'sequence')).toEqual({ at: '2026-01-01T00:00:00.000Z', id: '42' });
    expect(refusal(cursor).code).toBe('validation_failed');
    expect(refusal(encodeCursor({ at: '2026-01-01T00:00:00.000Z', id: ID }), 'sequence').code).toBe(
      'validation_failed',
    );
  });

  // Every row names its key: a test function with more parameters than the row has values
  // would be taken by jest for one that waits on a done callback.
  it.each<[string, string, CursorKey]>([
    ['not base64 JSON', 'garbage', 'uuid'],
    ['percent signs', '%%%', 'uuid'],
    ['empty', '', 'uuid'],
    ['a JSON object', raw({ at: '2026-01-01T00:00:00Z', id: ID }), 'uuid'],
    ['one element', raw(['2026-01-01T00:00:00Z']), 'uuid'],
    ['three elements', raw(['2026-01-01T00:00:00Z', ID, ID]), 'uuid'],
    ['a numeric time', raw([1767225600000, ID]), 'uuid'],
    ['a numeric id', raw(['2026-01-01T00:00:00Z', 42]), 'uuid'],
    ['an id that is not a UUID', raw(['2026-01-01T00:00:00Z', 'x']), 'uuid'],
    ['an id of 36 dashes', raw(['2026-01-01T00:00:00Z', '-'.repeat(36)]), 'uuid'],
    ['an id of 36 hex digits without dashes', raw(['2026-01-01T00:00:00Z', 'a'.repeat(36)]), 'uuid'],
    ['a UUID with a trailing newline', raw(['2026-01-01T00:00:00Z', `${ID}\n`]), 'uuid'],
    ['a UUID in braces', raw(['2026-01-01T00:00:00Z', `{${ID}}`]), 'uuid'],
    ['a time of "1" (Date.parse takes it)', raw(['1', ID]), 'uuid'],
    ['a date without a time', raw(['2026-01-01', ID]), 'uuid'],
    ['a time without a zone', raw(['2026-01-01T00:00:00', ID]), 'uuid'],
    ['a time with an offset', raw(['2026-01-01T00:00:00+02:00', ID]), 'uuid'],
    ['a space for the T', raw(['2026-01-01 00:00:00Z', ID]), 'uuid'],
    ['a human date', raw(['Thu, 01 Jan 2026 00:00:00 GMT', ID]), 'uuid'],
    ['February 30 (Date.parse rolls it over)', raw(['2026-02-30T00:00:00Z', ID]), 'uuid'],
    ['February 29 of a common year', raw(['2026-02-29T00:00:00Z', ID]), 'uuid'],
    ['April 31', raw(['2026-04-31T00:00:00Z', ID]), 'uuid'],
    ['month 13', raw(['2026-13-01T00:00:00Z', ID]), 'uuid'],
    ['month 00', raw(['2026-00-01T00:00:00Z', ID]), 'uuid'],
    ['day 00', raw(['2026-01-00T00:00:00Z', ID]), 'uuid'],
    ['hour 24', raw(['2026-01-01T24:00:00Z', ID]), 'uuid'],
    ['minute 60', raw(['2026-01-01T00:60:00Z', ID]), 'uuid'],
    ['second 60', raw(['2026-01-01T00:00:60Z', ID]), 'uuid'],
    ['year 0000 (PostgreSQL has none)', raw(['0000-01-01T00:00:00Z', ID]), 'uuid'],
    ['an extended year', raw(['+275760-09-13T00:00:00.000Z', ID]), 'uuid'],
    ['more than microseconds', raw(['2026-01-01T00:00:00.1234567Z', ID]), 'uuid'],
    ['a bare decimal point', raw(['2026-01-01T00:00:00.Z', ID]), 'uuid'],
    ['a sequence of zero', raw(['2026-01-01T00:00:00Z', '0']), 'sequence'],
    ['a negative sequence', raw(['2026-01-01T00:00:00Z', '-1']), 'sequence'],
    ['a sequence past the safe integers', raw(['2026-01-01T00:00:00Z', '12345678901234567']), 'sequence'],
  ])('refuses %s with the bad-cursor 400', (_, cursor, key) => {
    const error = refusal(cursor, key);
    expect(error).toBeInstanceOf(AppError);
    expect(error.status).toBe(400);
    expect(error.code).toBe('validation_failed');
    expect(error.extra.errors).toEqual([{ field: 'cursor', message: 'cursor is malformed' }]);
  });
});

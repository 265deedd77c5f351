import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min, MaxLength } from 'class-validator';
import { validationFailed } from './app-error';

export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit: number = 20;

  @ApiPropertyOptional({ description: 'Opaque cursor from a previous page (nextCursor).' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Keyset position: the sort timestamp plus the id as a tie-breaker. */
export interface CursorPosition {
  at: string;
  id: string;
}

/**
 * What a list's tie-breaker column holds: `uuid` for an id column, `sequence` for a positive
 * bigint counter (kept within JavaScript's safe integers).
 */
export type CursorKey = 'uuid' | 'sequence';

const CURSOR_KEYS: Record<CursorKey, RegExp> = {
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  sequence: /^[1-9]\d{0,15}$/,
};

/**
 * ISO-8601 UTC as cursors are written: `toISOString()` (milliseconds) or PostgreSQL's
 * `to_char(… 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')` (microseconds).
 */
const CURSOR_AT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?Z$/;

/**
 * Whether PostgreSQL's timestamptz takes it as the instant it says. `Date.parse` is no test:
 * it takes "1" and rolls "2026-02-31" over into March, both of which PostgreSQL refuses.
 */
function isCursorTimestamp(value: string): boolean {
  const match = CURSOR_AT.exec(value);
  if (!match) return false;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number);
  if (year < 1 || hour > 23 || minute > 59 || second > 59) return false;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/**
 * The column's instant as a cursor's time part, to the microsecond PostgreSQL keeps: a cursor cut to
 * JavaScript's milliseconds would skip the rows of that millisecond ordered after the page's last.
 */
export const cursorAtSql = (column: string): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.at, position.id]), 'utf8').toString('base64url');
}

/**
 * Reads a cursor from `encodeCursor`. Anything else is a 400 `validation_failed` before it can
 * reach a query: a timestamp or an id PostgreSQL would refuse to cast must not become a 500.
 */
export function decodeCursor(cursor: string | undefined, key: CursorKey = 'uuid'): CursorPosition | null {
  if (cursor === undefined) return null;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      typeof parsed[0] === 'string' &&
      typeof parsed[1] === 'string' &&
      isCursorTimestamp(parsed[0]) &&
      CURSOR_KEYS[key].test(parsed[1])
    ) {
      return { at: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through to the validation error below
  }
  throw validationFailed([{ field: 'cursor', message: 'cursor is malformed' }]);
}

/** Builds a page from `limit + 1` rows fetched newest first. */
export function toPage<Row, Item>(
  rows: Row[],
  limit: number,
  position: (row: Row) => CursorPosition,
  view: (row: Row) => Item,
): Page<Item> {
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  return {
    items: pageRows.map(view),
    nextCursor: more ? encodeCursor(position(pageRows[pageRows.length - 1])) : null,
  };
}

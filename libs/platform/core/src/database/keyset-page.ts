import { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { cursorAtSql } from '../http/pagination';

/**
 * Runs a keyset page query and returns each entity with its cursor time to the microsecond
 * (`cursorAtSql` of `column`, e.g. `o.created_at`): the entity's Date holds milliseconds only.
 */
export async function withCursorAt<T extends ObjectLiteral & { id: string }>(
  query: SelectQueryBuilder<T>,
  column: string,
): Promise<Array<{ row: T; cursorAt: string }>> {
  const { entities, raw } = await query
    .addSelect(cursorAtSql(column), 'cursor_at')
    .getRawAndEntities<Record<string, unknown> & { cursor_at: string }>();
  const idColumn = `${query.alias}_id`;
  const cursorAt = new Map(raw.map((r) => [String(r[idColumn]), r.cursor_at]));
  return entities.map((row) => {
    const at = cursorAt.get(row.id);
    // A missing one would be a cursor cut to milliseconds again: fail loudly instead.
    if (at === undefined) throw new Error(`${query.alias} ${row.id} came back without its cursor time`);
    return { row, cursorAt: at };
  });
}

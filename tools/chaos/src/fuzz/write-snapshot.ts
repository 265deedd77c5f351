import { PlatformStack } from '../stack/platform-stack';

/*
 * "Nothing written on any refusal": exact row counts of every table a request can write, taken
 * before and after. Left out: `ops.*` (heartbeats, audit, incidents move on their own) and
 * `auth.login_failures` (a refused login is recorded on purpose, to throttle guessing), and what
 * only consumers write, driven by earlier successful requests' events and landing whenever their
 * message is handled: the inbox, and the gateway's copy of the WhatsApp number mappings.
 *
 * The outbox and its published history count as one: a relay moves an earlier request's row from
 * one to the other whenever it runs, which writes no new event, while a refusal that enqueued one
 * would still raise their sum.
 */
export async function writeSnapshot(stack: PlatformStack): Promise<Record<string, number>> {
  const tables = await stack.query<{ name: string }>(
    `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE'
        AND table_schema NOT IN ('pg_catalog', 'information_schema', 'ops', 'public')
        AND (table_schema, table_name) NOT IN (
          ('auth', 'login_failures'), ('messaging', 'inbox'), ('webhooks', 'whatsapp_numbers'),
          ('messaging', 'outbox'), ('messaging', 'outbox_published'))
      ORDER BY 1`,
  );
  const [row] = await stack.query<Record<string, number>>(
    `SELECT ${tables.map((t, i) => `(SELECT count(*)::int FROM ${t.name}) AS c${i}`).join(', ')},
            (SELECT count(*)::int FROM messaging.outbox) + (SELECT count(*)::int FROM messaging.outbox_published)
              AS events`,
  );
  return {
    ...Object.fromEntries(tables.map((t, i) => [t.name, row[`c${i}`]])),
    'messaging.outbox + messaging.outbox_published': row.events,
  };
}

export function snapshotDiff(before: Record<string, number>, after: Record<string, number>): string[] {
  return Object.keys(after)
    .filter((table) => before[table] !== after[table])
    .map((table) => `${table}: ${before[table]} → ${after[table]}`);
}

#!/usr/bin/env bash
# Backs up the money tables (seed 000 "Backup obrigatório"): schemas `ledger` and `billing`, and the
# messaging outbox and inbox (without the inbox a restored ledger would apply old events again).
#
#   tools/ops/backup.sh [--database-url URL] [--out FILE]
#
# One pg_dump snapshot, custom format: the schema of the whole database (so the file restores on
# its own into an empty database) with the data of the money tables only, plus
# public.schema_migrations so the restored database knows its migration level. Writes FILE and
# FILE.sha256, and prints one JSON line. Secrets never appear in the output (the URL's password is
# masked). Run it before every deploy (docs/runbook.md "Backup and restore").
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
database_url="${DATABASE_URL:-}"
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --database-url) database_url="${2:?--database-url needs a value}"; shift 2 ;;
    --out) out="${2:?--out needs a value}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "backup.sh: unknown argument $1" >&2; usage >&2; exit 64 ;;
  esac
done
[ -n "$database_url" ] || { echo "backup.sh: set DATABASE_URL or pass --database-url" >&2; exit 64; }
for tool in pg_dump pg_restore psql sha256sum; do
  command -v "$tool" >/dev/null || { echo "backup.sh: $tool is not installed (Debian: postgresql-client)" >&2; exit 69; }
done

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
if [ -z "$out" ]; then
  dir="${BACKUP_DIR:-/var/backups/realapp}"
  out="$dir/realapp-money-$stamp.dump"
fi
mkdir -p "$(dirname "$out")"
masked_url="$(printf '%s' "$database_url" | sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#')"

# Every table outside the money set keeps its definition but not its rows.
mapfile -t excluded < <(psql "$database_url" -X -At -v ON_ERROR_STOP=1 -c "
  SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
  WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
    AND schemaname NOT IN ('ledger', 'billing')
    AND NOT (schemaname = 'messaging' AND tablename IN ('outbox', 'inbox'))
    AND NOT (schemaname = 'public' AND tablename = 'schema_migrations')
  ORDER BY 1")
args=()
for table in "${excluded[@]}"; do args+=("--exclude-table-data=$table"); done

tmp="$out.partial"
trap 'rm -f "$tmp"' EXIT
pg_dump "$database_url" --format=custom --compress=6 --no-owner --serializable-deferrable "${args[@]}" --file="$tmp"
# A file pg_restore cannot list is not a backup.
pg_restore --list "$tmp" >/dev/null
mv "$tmp" "$out"
trap - EXIT
(cd "$(dirname "$out")" && sha256sum "$(basename "$out")" >"$(basename "$out").sha256")

counts="$(psql "$database_url" -X -At -v ON_ERROR_STOP=1 -c "
  SELECT json_build_object(
    'wallets', (SELECT count(*) FROM ledger.wallets), 'entries', (SELECT count(*) FROM ledger.entries),
    'topups', (SELECT count(*) FROM billing.topups), 'subscriptions', (SELECT count(*) FROM billing.subscriptions),
    'outbox', (SELECT count(*) FROM messaging.outbox), 'inbox', (SELECT count(*) FROM messaging.inbox))")"
printf '{"level":"info","service":"backup","msg":"backup written","file":"%s","bytes":%s,"database":"%s","time":"%s","countsAtEnd":%s}\n' \
  "$out" "$(stat -c %s "$out")" "$masked_url" "$stamp" "$counts"

#!/usr/bin/env bash
# Restores a backup made by backup.sh into an EMPTY database (a new one, never the live one).
#
#   tools/ops/restore.sh --file FILE --database-url URL [--create]
#
# Refuses a database that already has a ledger: restoring over live data would delete the ledger
# history written since the backup, and the ledger is never deleted (seed 000, docs/runbook.md).
# --create creates the database first. Checks FILE.sha256 when it exists, then restores in one
# transaction (all or nothing). Afterwards run the migrations (`node dist/tools/migrations/src/run.js`)
# if the code is newer than the backup, verify (verify-restore.sh does both steps on a scratch copy),
# and only then point the services at the restored database.
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
file=""
database_url=""
create=false
while [ $# -gt 0 ]; do
  case "$1" in
    --file) file="${2:?--file needs a value}"; shift 2 ;;
    --database-url) database_url="${2:?--database-url needs a value}"; shift 2 ;;
    --create) create=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "restore.sh: unknown argument $1" >&2; usage >&2; exit 64 ;;
  esac
done
[ -n "$file" ] && [ -n "$database_url" ] || { echo "restore.sh: --file and --database-url are required" >&2; usage >&2; exit 64; }
[ -f "$file" ] || { echo "restore.sh: no such file: $file" >&2; exit 66; }
for tool in pg_restore psql sha256sum; do
  command -v "$tool" >/dev/null || { echo "restore.sh: $tool is not installed (Debian: postgresql-client)" >&2; exit 69; }
done

if [ -f "$file.sha256" ]; then
  (cd "$(dirname "$file")" && sha256sum --quiet --check "$(basename "$file").sha256") \
    || { echo "restore.sh: $file does not match its .sha256: refusing a damaged backup" >&2; exit 65; }
fi
pg_restore --list "$file" >/dev/null || { echo "restore.sh: $file is not a pg_dump custom-format backup" >&2; exit 65; }

database="$(printf '%s' "$database_url" | sed -E 's#^[a-z]+://[^/]*/([^?]+).*$#\1#')"
maintenance_url="$(printf '%s' "$database_url" | sed -E 's#^([a-z]+://[^/]*/)[^?]+#\1postgres#')"
if $create; then
  # Through stdin: psql interpolates :'db' / :"db" (quoting the name safely) only there, not in -c.
  exists="$(psql "$maintenance_url" -X -At -v ON_ERROR_STOP=1 -v db="$database" <<<"SELECT 1 FROM pg_database WHERE datname = :'db'")"
  if [ -z "$exists" ]; then psql "$maintenance_url" -X -q -v ON_ERROR_STOP=1 -v db="$database" <<<'CREATE DATABASE :"db"'; fi
fi

has_ledger="$(psql "$database_url" -X -At -v ON_ERROR_STOP=1 -c "SELECT 1 FROM pg_namespace WHERE nspname = 'ledger'")"
if [ -n "$has_ledger" ]; then
  echo "restore.sh: $database already has a ledger schema. Restore into a new, empty database and switch the services to it; never over live data." >&2
  exit 73
fi

# The migrations grant to this role; it must exist for the grants in the dump to restore.
psql "$database_url" -X -q -v ON_ERROR_STOP=1 -c "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'realapp_app') THEN CREATE ROLE realapp_app NOLOGIN; END IF;
END \$\$"
pg_restore --dbname="$database_url" --no-owner --exit-on-error --single-transaction "$file"
printf '{"level":"info","service":"restore","msg":"backup restored","file":"%s","database":"%s"}\n' "$file" "$database"

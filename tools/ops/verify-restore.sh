#!/usr/bin/env bash
# Proves a backup can be restored (seed 002 "teste de restore periódico", seed 004 "Verify restore
# on temp DB"): restores FILE into a scratch database, runs the ledger verification on it (every
# wallet recomputed from its entries, every hash chain checked, with the ledger's own code), prints
# what was restored, and drops the scratch database.
#
#   tools/ops/verify-restore.sh --file FILE [--admin-url URL] [--keep]
#
# --admin-url is a PostgreSQL URL allowed to create databases (default: DATABASE_URL's server, or
# postgres://postgres@127.0.0.1:5432/postgres). REALAPP_DIST points at the compiled code (default
# ./dist, as built by `npm run build` and shipped in the image). Exit 0 only when the ledger verifies.
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
here="$(cd "$(dirname "$0")" && pwd)"
file=""
admin_url=""
keep=false
while [ $# -gt 0 ]; do
  case "$1" in
    --file) file="${2:?--file needs a value}"; shift 2 ;;
    --admin-url) admin_url="${2:?--admin-url needs a value}"; shift 2 ;;
    --keep) keep=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "verify-restore.sh: unknown argument $1" >&2; usage >&2; exit 64 ;;
  esac
done
[ -n "$file" ] || { echo "verify-restore.sh: --file is required" >&2; usage >&2; exit 64; }
if [ -z "$admin_url" ]; then
  if [ -n "${DATABASE_URL:-}" ]; then
    admin_url="$(printf '%s' "$DATABASE_URL" | sed -E 's#^([a-z]+://[^/]*/)[^?]+#\1postgres#')"
  else
    admin_url="postgres://postgres@127.0.0.1:5432/postgres"
  fi
fi
dist="${REALAPP_DIST:-$here/../../dist}"
verifier="$dist/tools/ops/src/verify-ledger.js"
[ -f "$verifier" ] || { echo "verify-restore.sh: $verifier is missing: run npm run build (or set REALAPP_DIST)" >&2; exit 69; }

scratch="realapp_restore_check_$(date -u +%Y%m%d%H%M%S)_$$"
scratch_url="$(printf '%s' "$admin_url" | sed -E "s#^([a-z]+://[^/]*/)[^?]+#\1$scratch#")"
cleanup() {
  if ! $keep; then psql "$admin_url" -X -q -c "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

psql "$admin_url" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $scratch"
"$here/restore.sh" --file "$file" --database-url "$scratch_url" >/dev/null
set +e
DATABASE_URL="$scratch_url" node "$verifier"
status=$?
set -e
case $status in
  0) msg="backup restores and the ledger verifies" ;;
  1) msg="the restored ledger does not verify" ;;
  *) msg="could not run the ledger verification on the restored database" ;;
esac
level=info
[ $status -eq 0 ] || level=error
printf '{"level":"%s","service":"verify-restore","msg":"%s","file":"%s","scratchDatabase":"%s","kept":%s}\n' "$level" "$msg" "$file" "$scratch" "$keep" \
  | if [ $status -eq 0 ]; then cat; else cat >&2; fi
exit $status

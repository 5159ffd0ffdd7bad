#!/usr/bin/env bash
# Run the benchmarks on SQLite, then on PostgreSQL (postgres://postgres@127.0.0.1:5432, database
# outcomedesk_bench, dropped and re-created), one after the other. TICKETS=100000 for a shorter run;
# extra arguments go to benchmarks.run (e.g. --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
TICKETS=${TICKETS:-1000000}
for db in sqlite postgres; do
  echo "== $db, $TICKETS tickets"
  .venv/bin/python -m benchmarks.run --db "$db" --tickets "$TICKETS" "$@"
done

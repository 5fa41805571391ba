#!/usr/bin/env bash
# Brings the whole pipeline up on this machine and runs it until Ctrl-C:
# install what is missing, start the local services, migrate, then every Procfile process
# under foreman. Services this run started are stopped again on exit
# (set FERRY_KEEP_SERVICES=1 to leave them running).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/install.sh
before=$(ls .data/kafka/kafka.pid .data/clickhouse/clickhouse.pid .data/redis-queue/redis.pid 2>/dev/null || true)
bash scripts/services.sh start
cleanup() {
  if [[ -z $before && ${FERRY_KEEP_SERVICES:-0} != 1 ]]; then bash scripts/services.sh stop; fi
}
trap cleanup EXIT
node --import tsx cli/migrate.ts
# foreman gives each process a PORT; .foreman pins the first (the gateway) to 8080.
foreman start -f Procfile -d "$root"

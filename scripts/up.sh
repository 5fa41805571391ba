#!/usr/bin/env bash
# Brings the whole pipeline up on this machine and runs it until Ctrl-C:
# install what is missing, start the local services, migrate, then every Procfile process
# under foreman. Services this run started are stopped again on exit
# (set FERRY_KEEP_SERVICES=1 to leave them running).
#
#   npm run up                    one Kafka broker (9092), topics with one replica: the default
#   npm run up -- --brokers 3     the three-node cluster of scripts/kafka-cluster.sh (19092-19094),
#                                 topics with three replicas and min.insync.replicas=2 (or FERRY_BROKERS=3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

brokers=${FERRY_BROKERS:-1}
while (($#)); do
  case $1 in
    --brokers) brokers=${2:-}; shift 2 ;;
    --brokers=*) brokers=${1#*=}; shift ;;
    *) echo "usage: $0 [--brokers 1|3]" >&2; exit 2 ;;
  esac
done
[[ $brokers == 1 || $brokers == 3 ]] || { echo "--brokers must be 1 or 3" >&2; exit 2; }

bash scripts/install.sh
before=$(ls .data/kafka/kafka.pid .data/clickhouse/clickhouse.pid .data/redis-queue/redis.pid 2>/dev/null || true)
bash scripts/services.sh start
cluster_before=$(bash scripts/kafka-cluster.sh status | grep -v down || true)
cleanup() {
  if [[ ${FERRY_KEEP_SERVICES:-0} != 1 ]]; then
    if [[ -z $before ]]; then bash scripts/services.sh stop; fi
    if [[ $brokers == 3 && -z $cluster_before ]]; then bash scripts/kafka-cluster.sh stop; fi
  fi
}
trap cleanup EXIT
if [[ $brokers == 3 ]]; then
  bash scripts/kafka-cluster.sh start
  # Every process (migrate, gateway, workers, producer, dashboard) reads the bootstrap list here.
  KAFKA_BROKERS=$(bash scripts/kafka-cluster.sh brokers)
  export KAFKA_BROKERS
  export KAFKA_REPLICATION_FACTOR=${KAFKA_REPLICATION_FACTOR:-3}
fi
# The Procfile runs the bundles in dist/ (scripts/build.ts, well under a second).
npm run --silent build
node --max-semi-space-size=64 dist/cli/migrate.js
# foreman gives each process a PORT; .foreman pins the first (the gateway) to 8080.
foreman start -f Procfile -d "$root"

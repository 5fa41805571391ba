#!/usr/bin/env bash
# A three-node Kafka 4 cluster (KRaft, each node broker and controller) on this machine, beside
# the single dev broker: replication factor 3, min.insync.replicas=2, no unclean elections.
# Used by `npm run up -- --brokers 3`, the fault runner (`npm run chaos`) and its tests.
#
#   scripts/kafka-cluster.sh start          start the nodes that are not running (formats once)
#   scripts/kafka-cluster.sh stop           stop every node (TERM, then KILL), by pid
#   scripts/kafka-cluster.sh status         one line per node
#   scripts/kafka-cluster.sh brokers        the bootstrap list, for KAFKA_BROKERS
#   scripts/kafka-cluster.sh kill N         SIGKILL node N (1-3)
#   scripts/kafka-cluster.sh pause N        SIGSTOP node N;  resume N: SIGCONT
#   scripts/kafka-cluster.sh restart N      start node N again (after kill) and wait until it serves
#   scripts/kafka-cluster.sh pid N          node N's pid
#   scripts/kafka-cluster.sh wipe           stop, then delete the data directory
#
# KAFKA_CLUSTER_DIR (default .data/kafka-cluster) holds data, logs and pid files;
# KAFKA_CLUSTER_PORT (default 19092): brokers listen on it and the next two ports, controllers
# 100 above (19192-19194); a second listener (PROXIED) 200 above (19292-19294), advertised 300
# above (19392-19394), where the fault runner puts a proxy it can cut; KAFKA_CLUSTER_HEAP (default 320m) is each JVM's heap.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${KAFKA_CLUSTER_DIR:-$root/.data/kafka-cluster}
base=${KAFKA_CLUSTER_PORT:-19092}
heap=${KAFKA_CLUSTER_HEAP:-320m}
nodes=(1 2 3)
libs="$root/services/kafka/.dist/libs"
log4j="$root/services/kafka/log4j2.properties"

log() { echo "[kafka-cluster] $*" >&2; }
port_of() { echo $((base + $1 - 1)); }
cport_of() { echo $((base + 100 + $1 - 1)); }
xport_of() { echo $((base + 200 + $1 - 1)); }
pport_of() { echo $((base + 300 + $1 - 1)); }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid in node N's pid file, only while that process is still this node's JVM (pids get reused).
node_pid() {
  local f="$dir/node$1/kafka.pid" pid
  [[ -f $f ]] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$dir/node$1/server.properties" || return 1
  echo "$pid"
}

node_ready() { port_open "$(port_of "$1")" && grep -q "Kafka Server started" "$dir/node$1/server.log" 2>/dev/null; }

need_node() { [[ ${1:-} =~ ^[123]$ ]] || { log "node must be 1, 2 or 3"; exit 2; }; }

fetch_jars() {
  ls "$libs"/kafka_2.13-*.jar >/dev/null 2>&1 && return
  log "fetching the Kafka broker jars from Maven Central"
  (cd "$root/services/kafka" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=.dist/libs)
}

configure() {
  local voters="" n
  for n in "${nodes[@]}"; do voters+="${voters:+,}$n@127.0.0.1:$(cport_of "$n")"; done
  for n in "${nodes[@]}"; do
    mkdir -p "$dir/node$n/data"
    sed -e "s#@ID@#$n#g" -e "s#@VOTERS@#$voters#g" -e "s#@PORT@#$(port_of "$n")#g" \
      -e "s#@CPORT@#$(cport_of "$n")#g" -e "s#@XPORT@#$(xport_of "$n")#g" -e "s#@PPORT@#$(pport_of "$n")#g" \
      -e "s#@DATA@#$dir/node$n/data#g" \
      "$root/services/kafka-cluster/server.properties" >"$dir/node$n/server.properties"
  done
  # One cluster id for all three nodes, made once; each node's storage formatted once.
  [[ -f $dir/cluster.id ]] || java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1 >"$dir/cluster.id"
  for n in "${nodes[@]}"; do
    [[ -f $dir/node$n/data/meta.properties ]] && continue
    java -cp "$libs/*" -Dlog4j2.configurationFile="$log4j" kafka.tools.StorageTool format \
      -t "$(cat "$dir/cluster.id")" -c "$dir/node$n/server.properties" >"$dir/node$n/format.log" 2>&1 \
      || { cat "$dir/node$n/format.log" >&2; exit 1; }
  done
}

launch() {
  local n=$1 nd="$dir/node$1"
  if node_pid "$n" >/dev/null; then return; fi
  if port_open "$(port_of "$n")"; then log "port $(port_of "$n") is taken by something else"; exit 1; fi
  [[ -f $nd/server.log ]] && mv "$nd/server.log" "$nd/server.log.1"
  (cd "$nd" && exec nohup java -Xms64m -Xmx"$heap" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$libs/*" \
    -Dlog4j2.configurationFile="$log4j" kafka.Kafka "$nd/server.properties" >"$nd/server.log" 2>&1 </dev/null) &
  echo $! >"$nd/kafka.pid"
  log "node $n starting (pid $!, port $(port_of "$n"))"
}

wait_ready() {
  local deadline=$((SECONDS + ${KAFKA_CLUSTER_START_TIMEOUT:-120})) n
  for n in "$@"; do
    until node_ready "$n"; do
      if ! node_pid "$n" >/dev/null; then log "node $n exited:"; tail -20 "$dir/node$n/server.log" >&2; exit 1; fi
      if ((SECONDS >= deadline)); then log "node $n not ready in time"; tail -20 "$dir/node$n/server.log" >&2; exit 1; fi
      sleep 0.3
    done
  done
}

stop_node() {
  local n=$1 pid
  pid=$(node_pid "$n") || { rm -f "$dir/node$n/kafka.pid"; return 0; }
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/node$n/kafka.pid"
}

brokers() {
  local out="" n
  for n in "${nodes[@]}"; do out+="${out:+,}127.0.0.1:$(port_of "$n")"; done
  echo "$out"
}

cmd=${1:-start}
case $cmd in
  start)
    fetch_jars
    mkdir -p "$dir"
    configure
    for n in "${nodes[@]}"; do launch "$n"; done
    wait_ready "${nodes[@]}"
    log "ready: $(brokers)"
    ;;
  stop)
    # In parallel: a node stopping alone waits for the others to take over its partitions.
    for n in "${nodes[@]}"; do stop_node "$n" & done
    wait
    ;;
  wipe)
    "$0" stop
    rm -rf "$dir"
    ;;
  status)
    for n in "${nodes[@]}"; do
      if pid=$(node_pid "$n"); then
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
        if [[ $state == T ]]; then echo "node $n paused (pid $pid)"
        elif node_ready "$n"; then echo "node $n up (pid $pid, port $(port_of "$n"))"
        else echo "node $n starting (pid $pid)"; fi
      else
        echo "node $n down"
      fi
    done
    ;;
  brokers) brokers ;;
  pid) need_node "${2:-}"; node_pid "$2" ;;
  kill) need_node "${2:-}"; pid=$(node_pid "$2") && kill -KILL "$pid" && log "node $2 killed (pid $pid)" ;;
  pause) need_node "${2:-}"; pid=$(node_pid "$2") && kill -STOP "$pid" && log "node $2 paused (pid $pid)" ;;
  resume) need_node "${2:-}"; pid=$(node_pid "$2") && kill -CONT "$pid" && log "node $2 resumed (pid $pid)" ;;
  restart)
    need_node "${2:-}"
    # Waiting for "started" needs a controller quorum: with two nodes down, the caller starts
    # both before waiting (KAFKA_CLUSTER_NO_WAIT=1 on the first).
    launch "$2"
    [[ ${KAFKA_CLUSTER_NO_WAIT:-0} == 1 ]] || wait_ready "$2"
    ;;
  *) echo "usage: $0 start|stop|status|brokers|wipe|kill N|pause N|resume N|restart N|pid N" >&2; exit 2 ;;
esac

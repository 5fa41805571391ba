#!/usr/bin/env bash
# Local services Ferry runs against: Kafka 4 (KRaft), ClickHouse, a persistent queue Redis,
# plus the machine's PostgreSQL and cache Redis (started when they are down).
#
#   scripts/services.sh start   start what is not running (a healthy instance is reused)
#   scripts/services.sh stop    stop what this checkout started (pid files under .data/), and any
#                               service left running by a checkout since deleted
#   scripts/services.sh status  one line per service
#
# Data and logs live under .data/ (git-ignored). Ports can be moved with the variables below.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/.data"
mkdir -p "$data"

KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_SASL_SSL_PORT=${KAFKA_SASL_SSL_PORT:-9094}
KAFKA_SSL_PORT=${KAFKA_SSL_PORT:-9095}
# The local broker's TLS material and SASL credentials: machine-wide like the broker itself, so
# the tests of any checkout can reach the broker another checkout started. Never committed.
FERRY_DEV_DIR=${FERRY_DEV_DIR:-$HOME/.ferry-dev}
CLICKHOUSE_HTTP_PORT=${CLICKHOUSE_HTTP_PORT:-8123}
CLICKHOUSE_TCP_PORT=${CLICKHOUSE_TCP_PORT:-19000}
CLICKHOUSE_INTERSERVER_PORT=${CLICKHOUSE_INTERSERVER_PORT:-19009}
QUEUE_REDIS_PORT=${QUEUE_REDIS_PORT:-6380}

log() { echo "[services] $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for NAME SECONDS COMMAND...: polls COMMAND until it succeeds or the deadline passes.
wait_for() {
  local name=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then log "$name did not become ready within ${secs}s"; return 1; fi
    sleep 0.5
  done
}

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# --- PostgreSQL and the cache Redis: the machine's own instances -------------------------
start_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432; then return; fi
  log "PostgreSQL is down: starting the machine's cluster"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  wait_for postgresql 30 pg_isready -q -h 127.0.0.1 -p 5432
}

start_cache_redis() {
  if redis-cli -p 6379 ping >/dev/null 2>&1; then return; fi
  log "Redis on 6379 is down: starting it"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for redis 15 redis-cli -p 6379 ping
}

# --- Queue Redis: BullMQ state must survive restarts and must never be evicted -----------
start_queue_redis() {
  if redis-cli -p "$QUEUE_REDIS_PORT" ping >/dev/null 2>&1; then return; fi
  mkdir -p "$data/redis-queue"
  log "starting queue Redis on $QUEUE_REDIS_PORT (appendonly yes, noeviction)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$QUEUE_REDIS_PORT" \
    --appendonly yes --appendfsync always --maxmemory-policy noeviction \
    --dir "$data/redis-queue" --pidfile "$data/redis-queue/redis.pid" \
    --logfile "$data/redis-queue/redis.log"
  wait_for queue-redis 15 redis-cli -p "$QUEUE_REDIS_PORT" ping
}

# --- Kafka 4, KRaft, single combined broker+controller ----------------------------------
kafka_libs="$root/services/kafka/.dist/libs"
kafka_tls="$FERRY_DEV_DIR/kafka"
# The command line of a Kafka broker running on this machine, if any (its last word is its server.properties).
running_kafka() { pgrep -af 'kafka\.Kafka .*server\.properties' | head -1 || true; }
kafka_ready() { port_open "$KAFKA_PORT" && port_open "$KAFKA_SASL_SSL_PORT" && grep -q "Kafka Server started" "$data/kafka/server.log" 2>/dev/null; }

# A CA, a broker certificate for 127.0.0.1, a client certificate (for the SSL listener, which
# requires one) and a SASL password, made once per machine.
make_kafka_tls() {
  [[ -f $kafka_tls/sasl.password ]] && return
  log "making the local Kafka CA, certificates and SASL password in $kafka_tls"
  mkdir -p "$kafka_tls"
  chmod 700 "$kafka_tls"
  (
    set -e
    cd "$kafka_tls"
    umask 077
    q() { "$@" >/dev/null 2>openssl.err || { cat openssl.err >&2; exit 1; }; }
    q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 -subj "/CN=Ferry local Kafka CA"
    q openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=127.0.0.1"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >broker.ext
    q openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -extfile broker.ext -out broker.pem
    # Kafka's PEM key store wants an encrypted PKCS#8 key and its password.
    openssl rand -hex 16 >broker-key.password
    q openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES -in broker.key -passout "file:broker-key.password" -out broker-key.pem
    cat broker-key.pem broker.pem ca.pem >broker-keystore.pem
    q openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=ferry-client"
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    q openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -extfile client.ext -out client.pem
    rm -f ./*.csr ./*.ext ./*.srl broker-key.pem openssl.err
    openssl rand -hex 16 >sasl.password
  )
}

# The broker a test connects to over TLS and SASL: what test/kafka-security.integration.test.ts reads.
write_kafka_client_file() {
  cat >"$kafka_tls/client.json" <<JSON
{
  "saslSslBrokers": "127.0.0.1:$KAFKA_SASL_SSL_PORT",
  "sslBrokers": "127.0.0.1:$KAFKA_SSL_PORT",
  "plaintextBrokers": "127.0.0.1:$KAFKA_PORT",
  "username": "ferry",
  "passwordFile": "$kafka_tls/sasl.password",
  "caFile": "$kafka_tls/ca.pem",
  "certFile": "$kafka_tls/client.pem",
  "keyFile": "$kafka_tls/client.key"
}
JSON
}

# SCRAM credentials live in the cluster's metadata: added once per data directory.
add_scram_user() {
  local dir=$1 password
  [[ -f $dir/scram-user-added ]] && return
  password=$(cat "$kafka_tls/sasl.password")
  # A file rather than an argument, so the password shows in no process list.
  (umask 077; printf 'SCRAM-SHA-512=iterations=8192,password=%s\n' "$password" >"$dir/scram.properties")
  local out status=0
  out=$(java -cp "$kafka_libs/*" -Dlog4j2.configurationFile="$root/services/kafka/log4j2.properties" kafka.admin.ConfigCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter --entity-type users --entity-name ferry \
      --add-config-file "$dir/scram.properties" 2>&1) || status=$?
  rm -f "$dir/scram.properties"
  # The tool may echo what it was given: the log never holds the password.
  printf '%s\n' "${out//$password/<password>}" >"$dir/scram.log"
  if ((status != 0)); then log "could not add the SCRAM user (see $dir/scram.log)"; exit 1; fi
  touch "$dir/scram-user-added"
}

start_kafka() {
  if port_open "$KAFKA_PORT" && ! port_open "$KAFKA_SASL_SSL_PORT"; then
    # Started from an older configuration, without the secured listeners: start it again.
    local old
    old=$(running_kafka | awk '{print $1}')
    if [[ -n $old ]]; then
      log "Kafka on $KAFKA_PORT has no SASL_SSL listener: restarting it (pid $old)"
      kill -TERM "$old"
      for _ in $(seq 1 120); do kill -0 "$old" 2>/dev/null || break; sleep 0.5; done
      kill -0 "$old" 2>/dev/null && kill -KILL "$old"
      wait_for kafka-stop 30 bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$KAFKA_PORT)"
    fi
  fi
  if port_open "$KAFKA_PORT"; then
    wait_for kafka 60 port_open "$KAFKA_SASL_SSL_PORT"
    # A broker another checkout started may keep its TLS material under another FERRY_DEV_DIR
    # (another HOME): use that material, as its server.properties names it.
    if [[ ! -f $kafka_tls/client.json ]]; then
      local conf other
      conf=$(running_kafka | awk '{print $NF}')
      other=$( [[ -r $conf ]] && sed -n 's#^ssl\.truststore\.location=\(.*\)/ca\.pem$#\1#p' "$conf" || true)
      if [[ -n $other && $other != "$kafka_tls" && -f $other/client.json ]]; then
        log "using the running broker's TLS material in $other"
        mkdir -p "$FERRY_DEV_DIR"
        ln -sfn "$other" "$kafka_tls"
      fi
    fi
    # client.json is written last by whoever started this broker; without it, finish the set-up.
    if [[ ! -f $kafka_tls/client.json ]]; then
      [[ -f $kafka_tls/sasl.password ]] || { log "Kafka on $KAFKA_PORT was started elsewhere and its TLS material is not readable here: stop it, then start again"; exit 1; }
      mkdir -p "$data/kafka"
      rm -f "$data/kafka/scram-user-added"
      add_scram_user "$data/kafka"
      write_kafka_client_file
    fi
    return
  fi
  [[ -d $kafka_libs ]] || { log "Kafka jars missing: run scripts/install.sh"; exit 1; }
  make_kafka_tls
  local dir="$data/kafka"
  mkdir -p "$dir/logs"
  (umask 077; sed -e "s#@DATA@#$dir/logs#g" -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CPORT@#$KAFKA_CONTROLLER_PORT#g" \
    -e "s#@SASLPORT@#$KAFKA_SASL_SSL_PORT#g" -e "s#@SSLPORT@#$KAFKA_SSL_PORT#g" -e "s#@TLS@#$kafka_tls#g" \
    -e "s#@KEYPASS@#$(cat "$kafka_tls/broker-key.password")#g" -e "s#@SASLUSER@#ferry#g" \
    -e "s#@SASLPASS@#$(cat "$kafka_tls/sasl.password")#g" \
    "$root/services/kafka/server.properties" > "$dir/server.properties")
  if [[ ! -f $dir/logs/meta.properties ]]; then
    local id
    id=$(java -cp "$kafka_libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    java -cp "$kafka_libs/*" -Dlog4j2.configurationFile="$root/services/kafka/log4j2.properties" \
      kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" >"$dir/format.log" 2>&1
    rm -f "$dir/scram-user-added"
  fi
  log "starting Kafka on $KAFKA_PORT (SASL_SSL $KAFKA_SASL_SSL_PORT, SSL $KAFKA_SSL_PORT)"
  : >"$dir/server.log"
  # Run from its data directory, as ClickHouse and the queue Redis are: stop_orphans reads a
  # deleted working directory as a deleted checkout.
  (cd "$dir" && exec nohup java -Xms256m -Xmx768m -XX:+UseG1GC -cp "$kafka_libs/*" \
    -Dlog4j2.configurationFile="$root/services/kafka/log4j2.properties" \
    kafka.Kafka "$dir/server.properties" >>"$dir/server.log" 2>&1) &
  echo $! >"$dir/kafka.pid"
  wait_for kafka 90 kafka_ready || { tail -20 "$dir/server.log" >&2; exit 1; }
  add_scram_user "$dir"
  write_kafka_client_file
}

# --- ClickHouse from the Debian package, project-local config ----------------------------
clickhouse_ready() { curl -sf "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/ping"; }

start_clickhouse() {
  if clickhouse_ready >/dev/null 2>&1; then return; fi
  local dir="$data/clickhouse"
  mkdir -p "$dir/log" "$dir/lib/tmp" "$dir/lib/user_files" "$dir/lib/format_schemas"
  sed -e "s#/var/log/clickhouse-server#$dir/log#g" -e "s#/var/lib/clickhouse#$dir/lib#g" \
    -e "s#<http_port>8123</http_port>#<http_port>$CLICKHOUSE_HTTP_PORT</http_port>#" \
    -e "s#<tcp_port>9000</tcp_port>#<tcp_port>$CLICKHOUSE_TCP_PORT</tcp_port>#" \
    -e "s#<interserver_http_port>9009</interserver_http_port>#<interserver_http_port>$CLICKHOUSE_INTERSERVER_PORT</interserver_http_port>#" \
    /etc/clickhouse-server/config.xml >"$dir/config.xml"
  cp /etc/clickhouse-server/users.xml "$dir/users.xml"
  log "starting ClickHouse on $CLICKHOUSE_HTTP_PORT"
  # exec: the background subshell becomes the server, so the pid file names it and no shell
  # lingers holding this script's stdout (a caller reading our output to the end would hang).
  (cd "$dir" && exec nohup clickhouse-server --config="$dir/config.xml" >"$dir/stdout.log" 2>&1 </dev/null) &
  echo $! >"$dir/clickhouse.pid"
  wait_for clickhouse 60 clickhouse_ready || { tail -20 "$dir/log/clickhouse-server.err.log" >&2; exit 1; }
}

# A service left running by a checkout that has since been deleted still answers on its port,
# but cannot make anything new (ClickHouse fails every CREATE with "File not found"). Its
# working directory tells: the kernel marks it deleted. Stop such services so start brings up
# this checkout's own. A directory deleted and cloned again at the same path counts as deleted.
stop_orphans() {
  local pid cwd
  for pid in $(pgrep -f 'clickhouse-server --config=|kafka\.Kafka .*server\.properties' || true) \
             $(pgrep -f "redis-server 127\.0\.0\.1:$QUEUE_REDIS_PORT" || true); do
    cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || continue
    [[ $cwd == *" (deleted)" ]] || continue
    log "pid $pid runs in a deleted directory (${cwd% (deleted)}): stopping it"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

stop_pidfile() {
  local name=$1 file=$2
  if pid_alive "$file"; then
    local pid; pid=$(cat "$file")
    log "stopping $name (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$file"
}

case "${1:-start}" in
  start)
    stop_orphans
    start_postgres
    start_cache_redis
    start_queue_redis
    start_clickhouse
    start_kafka
    log "all services ready"
    ;;
  stop)
    stop_orphans
    stop_pidfile kafka "$data/kafka/kafka.pid"
    stop_pidfile clickhouse "$data/clickhouse/clickhouse.pid"
    # ClickHouse 18.16 runs its server as a child of a watchdog that does not pass TERM on:
    # stop any server still running on this checkout's config.
    if pkill -TERM -f -- "--config=$data/clickhouse/config.xml" 2>/dev/null; then
      for _ in $(seq 1 60); do pgrep -f -- "--config=$data/clickhouse/config.xml" >/dev/null || break; sleep 0.5; done
      pkill -KILL -f -- "--config=$data/clickhouse/config.xml" 2>/dev/null || true
    fi
    stop_pidfile queue-redis "$data/redis-queue/redis.pid"
    ;;
  status)
    for s in "postgres:pg_isready -q -h 127.0.0.1 -p 5432" "redis:redis-cli -p 6379 ping" \
             "queue-redis:redis-cli -p $QUEUE_REDIS_PORT ping" "clickhouse:clickhouse_ready" \
             "kafka:port_open $KAFKA_PORT" "kafka-sasl-ssl:port_open $KAFKA_SASL_SSL_PORT" "kafka-ssl:port_open $KAFKA_SSL_PORT"; do
      name=${s%%:*}; cmd=${s#*:}
      if eval "$cmd" >/dev/null 2>&1; then echo "$name up"; else echo "$name down"; fi
    done
    ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

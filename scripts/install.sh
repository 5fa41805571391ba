#!/usr/bin/env bash
# Installs what Ferry needs on a fresh Debian 12 machine; does nothing that is already done.
#  - Debian packages: librdkafka's build dependencies, ClickHouse, foreman, kcat, openssl (the local Kafka's CA),
#    chromium (the browser test drives it headless through playwright-core)
#  - npm packages, with the librdkafka addon built against the system libraries and patched
#    (patches/kafka-javascript-consume-packed.patch)
#  - the Kafka broker jars from Maven Central
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { echo "[install] $*" >&2; }

packages=(zlib1g-dev libssl-dev libzstd-dev liblz4-dev libsasl2-dev libcurl4-openssl-dev
          clickhouse-server clickhouse-client ruby-foreman kcat curl openssl chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  sudo_=""; [[ $(id -u) -eq 0 ]] || sudo_="sudo"
  $sudo_ apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -q "${missing[@]}" >/dev/null
fi

# The prebuilt librdkafka download is unreachable here and the default source build tries to
# download its dependencies; CKJS_LINKING=dynamic builds the bundled librdkafka against the
# Debian libraries installed above.
addon_ok() { node -e "require('@confluentinc/kafka-javascript')" >/dev/null 2>&1; }
stamp=node_modules/.ferry-install-stamp
if [[ ! -f $stamp || package-lock.json -nt $stamp ]] || ! addon_ok; then
  log "npm ci (builds librdkafka, about 2 minutes the first time)"
  CKJS_LINKING=dynamic npm ci --no-audit --no-fund --loglevel=error
  addon_ok || { log "the librdkafka addon did not build"; exit 1; }
  touch "$stamp"
fi

# Ferry's patch to the addon (patches/): consumePacked() hands the worker each consume call's
# records in one Buffer (lib/kafka/packed-messages.ts). Applied to the source npm ci built from,
# then only the changed files are compiled again. A stock addon still works, more slowly.
binding=node_modules/@confluentinc/kafka-javascript
packed_ok() {
  node -e "const { KafkaConsumer } = require('@confluentinc/kafka-javascript');
    process.exit(typeof new KafkaConsumer({ 'group.id': 'probe' }, {})._client.consumePacked === 'function' ? 0 : 1)" >/dev/null 2>&1
}
if ! packed_ok; then
  log "patching the librdkafka addon (consumePacked) and compiling the changed files"
  grep -q consumePacked "$binding/src/kafka-consumer.cc" \
    || patch -p1 -N -s -d "$binding" < patches/kafka-javascript-consume-packed.patch
  [[ -f $binding/build/Makefile ]] || (cd "$binding" && CKJS_LINKING=dynamic npm run configure --silent >/dev/null)
  (cd "$binding" && CKJS_LINKING=dynamic npm run build --silent >/dev/null 2>&1)
  packed_ok || { log "the patched librdkafka addon did not build"; exit 1; }
fi

if [[ ! -d services/kafka/.dist/libs ]] || ! ls services/kafka/.dist/libs/kafka_2.13-*.jar >/dev/null 2>&1; then
  log "fetching the Kafka broker jars from Maven Central"
  (cd services/kafka && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=.dist/libs)
fi

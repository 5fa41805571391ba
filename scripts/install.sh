#!/usr/bin/env bash
# Installs what Ferry needs on a fresh Debian 12 machine; does nothing that is already done.
#  - Debian packages: librdkafka's build dependencies and patch (patches/), ClickHouse, foreman, kcat, openssl (the local Kafka's CA),
#    chromium (the browser test drives it headless through playwright-core)
#  - npm packages, with the librdkafka addon built against the system libraries and patched
#    (patches/kafka-javascript-consume-packed.patch)
#  - the Kafka broker jars from Maven Central
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { echo "[install] $*" >&2; }

packages=(zlib1g-dev libssl-dev libzstd-dev liblz4-dev libsasl2-dev libcurl4-openssl-dev
          clickhouse-server clickhouse-client ruby-foreman kcat curl openssl chromium patch)
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
patch_file=patches/kafka-javascript-consume-packed.patch
patch_stamp=node_modules/.ferry-addon-patch
patch_sum=$(sha256sum "$patch_file" | cut -d' ' -f1)
# An addon that another version of the patch went into is installed again from scratch.
stale_patch() { [[ -f $patch_stamp && $(cat "$patch_stamp") != "$patch_sum" ]]; }
npm_ci() {
  log "npm ci (builds librdkafka, about 2 minutes the first time)"
  CKJS_LINKING=dynamic npm ci --no-audit --no-fund --loglevel=error
  addon_ok || { log "the librdkafka addon did not build"; exit 1; }
  rm -f "$patch_stamp"
  touch "$stamp"
}
if [[ ! -f $stamp || package-lock.json -nt $stamp ]] || stale_patch || ! addon_ok; then
  npm_ci
fi

# Ferry's patch to the addon (patches/): consumePacked() hands the worker each consume call's
# records in one Buffer (lib/kafka/packed-messages.ts). Applied to the source npm ci built from,
# then only the changed files are compiled again. A stock addon still works, more slowly.
binding=node_modules/@confluentinc/kafka-javascript
packed_ok() {
  node -e "const { KafkaConsumer } = require('@confluentinc/kafka-javascript');
    process.exit(typeof new KafkaConsumer({ 'group.id': 'probe' }, {})._client.consumePacked === 'function' ? 0 : 1)" >/dev/null 2>&1
}
if [[ ! -f $patch_stamp ]] || ! packed_ok; then
  log "patching the librdkafka addon (consumePacked) and compiling the changed files"
  build_log=node_modules/.ferry-addon-build.log
  # A failure removes the install stamp: the next run starts again from a clean npm ci.
  give_up() { rm -f "$stamp"; log "$1"; exit 1; }
  applies() { patch -p1 -f -s --dry-run "$@" -d "$binding" < "$patch_file" >/dev/null 2>&1; }
  if ! applies -R; then # not applied already (then only the build is missing)
    # Sources changed otherwise (another version of the patch): start again from clean ones.
    applies || npm_ci
    applies || give_up "patches/ does not apply to @confluentinc/kafka-javascript $(node -p "require('@confluentinc/kafka-javascript/package.json').version") (it is written for the version package.json pins)"
    patch -p1 -f -s -d "$binding" < "$patch_file"
  fi
  if ! (cd "$binding" && { [[ -f build/Makefile ]] || CKJS_LINKING=dynamic npm run configure; } && CKJS_LINKING=dynamic npm run build) >"$build_log" 2>&1; then
    tail -n 30 "$build_log" >&2
    give_up "the patched librdkafka addon did not build (whole log: $build_log)"
  fi
  packed_ok || give_up "the patched librdkafka addon built but has no consumePacked()"
  echo "$patch_sum" > "$patch_stamp"
fi

if [[ ! -d services/kafka/.dist/libs ]] || ! ls services/kafka/.dist/libs/kafka_2.13-*.jar >/dev/null 2>&1; then
  log "fetching the Kafka broker jars from Maven Central"
  (cd services/kafka && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=.dist/libs)
fi

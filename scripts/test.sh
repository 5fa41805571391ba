#!/usr/bin/env bash
# The whole test suite: typecheck, lint, unit tests, and integration tests against the real
# local services (started here when they are not running).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/install.sh
bash scripts/services.sh start

echo "== typecheck"
npx --no-install tsc --noEmit -p .
echo "== lint"
npx --no-install eslint .
echo "== format"
# deno fmt (deno.json): `npm run format` rewrites what this refuses.
./node_modules/deno/deno fmt --check --quiet
echo "== build"
# The tests start the bundles in dist/ as well as the sources (test/built-output.integration.test.ts).
node --import tsx scripts/build.ts
echo "== stale isolations"
# What earlier test or benchmark processes left when they died before their cleanup.
node --import tsx support/stale-isolations.ts
echo "== tests"
mapfile -t tests < <(find clients gateway producer registry workers dashboard cli schemas lib support test bench chaos -name '*.test.ts' 2>/dev/null | sort)
# Integration tests start their own gateways and workers: one file at a time keeps a
# 2-core machine from timing them out.
node --import tsx --test --test-concurrency=1 --test-timeout=600000 "${tests[@]}"

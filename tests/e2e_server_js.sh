#!/usr/bin/env bash
# e2e_server_js.sh — the official OpenAI Node SDK against `janc serve`.
#
# Copies tests/js/ (package.json + openai_sdk.test.cjs) into
# $JANC_BUILD/server-js/, runs `npm install` there once (the npm registry
# must be reachable; offline it skips visibly), starts the server on a free
# port with stories260K.gguf as the model "tiny", and runs `node --test`.
# Skips (77) without ../shared, node/npm, or the registry.
set -uo pipefail
src=${JANC_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
build=${JANC_BUILD:-$src/build}
bin=${JANC_BIN:-$build/janc}
shared=${JANC_SHARED:-$src/../shared}
skip() { echo "SKIP: $*"; exit 77; }

model=$shared/testdata/models/stories260K.gguf
[ -f "$model" ] || skip "no $model (../shared is needed for the test model)"
command -v node >/dev/null || skip "node is not installed"
command -v npm >/dev/null || skip "npm is not installed"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 18 ] || skip "node $major is too old for the openai SDK (18+)"
[ -x "$bin" ] || { echo "FAIL: no program at $bin"; exit 1; }

work=$build/server-js
mkdir -p "$work"
cp "$src/tests/js/package.json" "$src/tests/js/openai_sdk.test.cjs" "$work/"
if [ ! -f "$work/node_modules/openai/package.json" ] || [ "$src/tests/js/package.json" -nt "$work/node_modules/openai/package.json" ]; then
  if ! (cd "$work" && timeout 120 npm install --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1); then
    tail -5 "$work/npm.log"
    skip "npm install failed (offline, or the registry is unreachable): see $work/npm.log"
  fi
fi

tmp=$(mktemp -d /tmp/janc-e2e-js.XXXXXX)
spid=""
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir -p "$tmp/data/models/tiny"
ln -s "$model" "$tmp/data/models/tiny/stories260K.gguf"
printf '{"source_url":"file://%s","settings":{"ctx_len":512,"n_parallel":2}}\n' "$model" >"$tmp/data/models/tiny/model.json"
"$bin" --data-dir "$tmp/data" serve --port 0 --threads 1 >"$tmp/out" 2>"$tmp/err" &
spid=$!
url=""
for _ in $(seq 100); do
  url=$(grep -o 'http://[^ ]*' "$tmp/out" 2>/dev/null | head -1)
  [ -n "$url" ] && break
  kill -0 "$spid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$url" ] || { echo "FAIL: the server did not start"; cat "$tmp/err"; exit 1; }

cd "$work" && JANC_URL=$url JANC_IMPORT_PATH=$model node --test openai_sdk.test.cjs
rc=$?
kill -TERM "$spid"
wait "$spid"; src_rc=$?
spid=""
[ "$src_rc" = 0 ] || { echo "FAIL: the server exited with $src_rc"; exit 1; }
exit $rc

#!/usr/bin/env bash
# e2e_web.sh — the built-in page in a real browser against the real server.
#
# Starts `janc serve --port <free> --data-dir <tmp> --api-key <key>` with
# stories260K.gguf dropped into <tmp>/models/stories/, checks that GET /
# serves exactly web/index.html, then runs tests/web/page_test.mjs in
# headless Chromium (Debian's chromium, driven by playwright-core from npm):
# the page asks for the key, lists the model, streams a chat answer, stops a
# long generation and answers again, keeps chats over a reload, renders
# markdown safely, imports a file, downloads one from a loopback web server,
# deletes a model, saves a model's parameters, works in a narrow window. Screenshots are kept in
# $JANC_BUILD/web-artifacts/. Skips (exit 77) with the reason when ../shared,
# chromium, node/npm or playwright-core cannot be had.
set -uo pipefail
src=${JANC_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
build=${JANC_BUILD:-$src/build}
bin=${JANC_BIN:-$build/janc}
shared=${JANC_SHARED:-$src/../shared}
skip() { echo "SKIP: $*"; exit 77; }

model=$shared/testdata/models/stories260K.gguf
[ -f "$model" ] || skip "no $model (../shared is needed for the test model)"
[ -x "$bin" ] || { echo "FAIL: no program at $bin"; exit 1; }
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing chromium (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || true
  fi
  [ -x /usr/bin/chromium ] || skip "no /usr/bin/chromium (apt-get install chromium) and cannot install it"
fi
command -v node >/dev/null && command -v npm >/dev/null || skip "node and npm are needed to drive the browser"
command -v curl >/dev/null || skip "curl is needed"

# playwright-core from the npm registry, installed once into the build folder.
runner=$build/web-test
mkdir -p "$runner"
if ! cmp -s "$src/tests/web/package-lock.json" "$runner/package-lock.json" || [ ! -d "$runner/node_modules/playwright-core" ]; then
  cp "$src/tests/web/package.json" "$src/tests/web/package-lock.json" "$runner/"
  (cd "$runner" && npm ci --no-audit --no-fund --loglevel=error) >/dev/null 2>&1 ||
    skip "npm ci of playwright-core failed (no access to the npm registry?)"
fi
cp "$src/tests/web/page_test.mjs" "$runner/"

tmp=$(mktemp -d)
pid= files_pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ -n "$files_pid" ] && kill "$files_pid" 2>/dev/null && wait "$files_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/data/models/stories"
cp "$model" "$tmp/data/models/stories/"
# A file to import from the page, and a loopback web server to download one from.
mkdir -p "$tmp/import" "$tmp/files"
cp "$shared/testdata/models/syn-a-Q4_0.gguf" "$tmp/import/"
cp "$model" "$tmp/files/tiny.gguf"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
files_port=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$tmp/files" "$files_port" >/dev/null 2>&1 &
files_pid=$!
port=$(free_port)
key=web-test-key-$RANDOM
"$bin" serve --port "$port" --data-dir "$tmp/data" --api-key "$key" >"$tmp/serve.log" 2>&1 &
pid=$!
base=http://127.0.0.1:$port
for _ in $(seq 100); do
  curl -s -o /dev/null "$base/health" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if ! kill -0 "$pid" 2>/dev/null; then
  pid=
  if grep -q "not implemented" "$tmp/serve.log"; then skip "janc serve is not implemented yet"; fi
  echo "FAIL: janc serve exited:"; cat "$tmp/serve.log"; exit 1
fi

# The page is the one in web/, byte for byte, with the right types.
fail=0
for f in index.html app.js style.css; do
  path=/$f; [ "$f" = index.html ] && path=/
  ctype=$(curl -s -o "$tmp/got" -w '%{content_type}' "$base$path")
  if cmp -s "$tmp/got" "$src/web/$f"; then echo "ok - GET $path is web/$f byte for byte"; else echo "FAIL: GET $path is not web/$f (rebuild janc after scripts/embed_web.py)"; fail=1; fi
  case "$f:$ctype" in
    *.html:text/html*|*.js:text/javascript*|*.css:text/css*) echo "ok - GET $path has Content-Type $ctype" ;;
    *) echo "FAIL: GET $path has Content-Type '$ctype'"; fail=1 ;;
  esac
done
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/models")
[ "$code" = 401 ] && echo "ok - the API wants the key (401)" || { echo "FAIL: GET /v1/models without the key gave $code"; fail=1; }
[ $fail -eq 0 ] || exit 1

# The id the store gave the dropped-in model.
id=$(curl -s -H "Authorization: Bearer $key" "$base/v1/models" |
  python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(d[0]["id"] if len(d)==1 else "")')
[ -n "$id" ] || { echo "FAIL: the models list does not hold exactly the test model"; exit 1; }

art=$build/web-artifacts
rm -rf "$art"; mkdir -p "$art"
(cd "$runner" && JANC_URL="$base/" MODEL_ID="$id" API_KEY="$key" WEB_ARTIFACTS="$art" \
   IMPORT_PATH="$tmp/import/syn-a-Q4_0.gguf" DOWNLOAD_URL="http://127.0.0.1:$files_port/tiny.gguf" \
   timeout 60 node page_test.mjs)
rc=$?
[ $rc -eq 0 ] || { echo "--- janc serve log (last 30 lines)"; tail -30 "$tmp/serve.log"; echo "FAIL: the browser test (rc $rc); screenshots in $art"; exit 1; }
echo "screenshots in $art"

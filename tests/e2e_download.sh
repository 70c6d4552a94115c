#!/usr/bin/env bash
# e2e_download.sh — `janc models pull` end to end against
# tests/helpers/dl_server.py on 127.0.0.1: a download with plain progress
# lines (not a terminal), the model ready in list --json with its sha256,
# a 404 as exit 1 with the status, a dropped connection resumed, pull by id
# after the file was removed, a second pull of a model that has its file
# refused, rm. Skips (77) without python3.
set -u
JANC=${JANC_BIN:?JANC_BIN is the built janc}
SRC=${JANC_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
command -v python3 >/dev/null || { echo "SKIP: python3 is needed"; exit 77; }
T=$(mktemp -d)
D=$T/data
mkdir -p "$T/files"
python3 "$SRC/tests/helpers/mkgguf.py" "$T/files/tiny.gguf" --name "Tiny DL" --floats 40000
python3 "$SRC/tests/helpers/dl_server.py" "$T/files" >"$T/port" 2>"$T/server.log" &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT=$(head -1 "$T/port")
[ -n "$PORT" ] || { echo "FAIL: the test server did not start"; exit 1; }
URL=http://127.0.0.1:$PORT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
j() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
export JANC_LOG=error
# the test server is on loopback: a proxy from the environment must not be asked
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost

"$JANC" --data-dir "$D" models pull "$URL/slow/tiny.gguf" --id slow >"$T/out" 2>"$T/err"; rc=$?
check "pull exits 0 and prints the id" "[ $rc = 0 ] && [ \"\$(cat '$T/out')\" = slow ]"
check "progress is plain lines when not a terminal" "grep -q '^slow: .*%' '$T/err' && ! grep -q \$'\\r' '$T/err'"
"$JANC" --data-dir "$D" models show slow --json >"$T/m.json"
sha=$(sha256sum "$T/files/tiny.gguf" | cut -d' ' -f1)
check "the model is ready with its sha256 and GGUF facts" \
  "[ \"\$(j 'd[\"state\"], d[\"metadata\"][\"sha256\"], d[\"name\"]' <'$T/m.json')\" = 'ready $sha Tiny DL' ]"
check "the file is in place, no .part" "cmp -s '$T/files/tiny.gguf' '$D/models/slow/tiny.gguf' && [ ! -e '$D/models/slow/tiny.gguf.part' ]"

if command -v script >/dev/null; then
  # on a terminal: a progress bar redrawn with \r, bytes, percent, speed, time left
  script -qec "'$JANC' --data-dir '$D' models pull '$URL/slow/tiny.gguf' --id onatty" /dev/null >"$T/tty" 2>&1
  check "a terminal gets a progress bar" "grep -q \$'\\r' '$T/tty' && grep -q '\\[=*>' '$T/tty' && grep -q 'ETA' '$T/tty'"
fi

"$JANC" --data-dir "$D" models pull "$URL/404/tiny.gguf" --id gone 2>"$T/err"; rc=$?
check "a 404 exits 1 and names the status" "[ $rc = 1 ] && grep -q 'HTTP 404' '$T/err'"

"$JANC" --data-dir "$D" models pull "$URL/drop/tiny.gguf" --id dropped >/dev/null 2>"$T/err"; rc=$?
check "a dropped connection is resumed" "[ $rc = 0 ] && cmp -s '$T/files/tiny.gguf' '$D/models/dropped/tiny.gguf'"
check "the resume used a Range request" "grep -q 'bytes=' '$T/server.log'"

rm "$D/models/dropped/tiny.gguf"
"$JANC" --data-dir "$D" models list --json >"$T/l.json"
check "a model whose file is missing has state null" "[ \"\$(j '[m[\"state\"] for m in d[\"data\"] if m[\"id\"]==\"dropped\"][0]' <'$T/l.json')\" = None ]"
"$JANC" --data-dir "$D" models pull dropped >/dev/null 2>&1; rc=$?
check "pull ID downloads its missing file" "[ $rc = 0 ] && cmp -s '$T/files/tiny.gguf' '$D/models/dropped/tiny.gguf'"
"$JANC" --data-dir "$D" models pull dropped 2>"$T/err"; rc=$?
check "pull of a model that has its file is refused" "[ $rc = 1 ] && grep -q 'already' '$T/err'"
"$JANC" --data-dir "$D" models pull "ftp://127.0.0.1/x.gguf" 2>/dev/null; rc=$?
check "an ftp URL is refused" "[ $rc = 1 ]"
"$JANC" --data-dir "$D" models rm slow >/dev/null
check "rm removes the folder" "[ ! -e '$D/models/slow' ]"

echo "e2e_download: $fails failed"
[ "$fails" = 0 ]

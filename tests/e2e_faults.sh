#!/usr/bin/env bash
# e2e_faults.sh — janc killed, out of disk, out of memory (issue 9).
#
# Proves, with the real program:
#  - import killed: `janc models import` of a 48 MiB GGUF is killed with
#    SIGKILL at random moments (some land mid-import: its hidden staging
#    folder is left); afterwards the model is either absent or complete
#    (same bytes), nothing half-made or hidden is listed, every model.json
#    parses, and the same id imports fine;
#  - model.json rewrites killed: `janc serve` (folder watcher on) imports
#    through the API in a loop while GGUFs are dropped into new folders
#    (each gets a model.json written in place), and is killed with SIGKILL at
#    random moments, three times; after each, every model.json on disk
#    parses, every listed model is ready, no temporary file is a model;
#  - download killed: `janc models pull` from tests/load/range_server.py
#    (slow, honours Range, logs each request) is killed mid-body; `pull ID`
#    then resumes: the server's log shows a Range request from exactly the
#    .part's size and a body of the rest, and the file is byte-identical;
#    the same through `janc serve` (POST /v1/models, serve killed, restarted,
#    POST /v1/models/ID/download);
#  - full disk (a 2 MiB tmpfs; skipped visibly when mount is not allowed):
#    import and pull fail with exit 1 and a one-line error naming the lack
#    of space, the model already there is intact, the pull's .part is kept,
#    and after the disk grows `pull ID` resumes from it;
#  - allocation failures are errors: a model claiming a 16M-token context
#    run with -c 4194304 under `ulimit -v` exits 1 with a message; a sweep of
#    `ulimit -v` limits makes loading fail at different places, always exit 0
#    or 1 with one line, never a signal; `janc serve` under a limit answers a
#    start with a huge context by 500 model_load_failed and keeps serving.
# Skips (77) without curl or python3; the parts that need ../shared say so.
# About 30 s.
JANC_TEST_NAME=e2e_faults
. "$(dirname "$0")/load/lib.sh"
J=$bin
export JANC_LOG=warn
have_shared=0; [ -f "$model" ] && have_shared=1
mj_all_parse() { # DATA: every model.json under models/ is strict JSON with source_url
  python3 - "$1/models" <<'EOF'
import glob, json, sys
bad = []
for p in glob.glob(sys.argv[1] + "/*/model.json"):
    try:
        d = json.load(open(p))
        if not isinstance(d, dict) or "source_url" not in d:
            bad.append(p + ": no source_url")
    except Exception as ex:
        bad.append("%s: %s" % (p, ex))
if bad:
    print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
}
# list_ok DATA: `models list --json` works; no listed id is hidden or a temporary file; prints states.
list_json() { "$J" --data-dir "$1" models list --json 2>>"$tmp/list.err"; }
ids_clean() {
  list_json "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
bad = [m["id"] for m in d["data"] if m["id"].startswith(".") or ".tmp." in m["id"] or m["id"].endswith(".part")]
sys.exit(1 if bad else 0)'
}
msleep() { sleep "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))"; }
states() { list_json "$1" | python3 -c 'import json,sys; print(" ".join(sorted("%s=%s" % (m["id"], m["state"]) for m in json.load(sys.stdin)["data"])))'; }
# not_ready DATA: `models list --json` works and every model is ready (prints the others).
not_ready() {
  list_json "$1" | python3 -c '
import json, sys
bad = ["%s=%s" % (m["id"], m["state"]) for m in json.load(sys.stdin)["data"] if m["state"] != "ready"]
print(" ".join(bad))
sys.exit(1 if bad else 0)'
}

python3 "$loaddir/mkbig.py" "$tmp/big.gguf" 48
python3 "$loaddir/mkbig.py" "$tmp/dl.gguf" 12
python3 "$loaddir/mkbig.py" "$tmp/four.gguf" 4
python3 "$src/tests/helpers/mkgguf.py" "$tmp/small.gguf" --name Small --floats 64

# ---- import killed at random moments ---------------------------------------------------
D=$tmp/imp
t0=$EPOCHREALTIME
"$J" --data-dir "$D" models import "$tmp/big.gguf" --id first >/dev/null 2>&1
t_imp=$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))
cmp -s "$tmp/big.gguf" "$D/models/first/big.gguf" && ok "a 48 MiB import takes ${t_imp} ms" || bad "reference import" "not in place"
mid=0 rounds=0 done_rounds=0
for r in $(seq 1 16); do
  rounds=$r
  "$J" --data-dir "$D" models import "$tmp/big.gguf" --id "k$r" >/dev/null 2>&1 &
  p=$!
  if [ $((r % 2)) = 0 ]; then  # even rounds: any moment from the start to a little after the end
    msleep $(( 2 + RANDOM % (t_imp + 10) ))
  else                         # odd rounds: once the staging folder is there, then a random moment
    wait_for 5 bash -c "ls -d '$D'/models/.import-* >/dev/null 2>&1 || ! kill -0 $p 2>/dev/null"
    msleep $(( RANDOM % (t_imp / 2 + 1) ))
  fi
  kill -9 "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  stage=$(ls -d "$D"/models/.import-* 2>/dev/null | wc -l)
  [ "$stage" -gt 0 ] && mid=$((mid + 1))
  rm -rf "$D"/models/.import-*  # counted above; see the note below
  [ -d "$D/models/k$r" ] && done_rounds=$((done_rounds + 1))
  [ "$mid" -ge 3 ] && [ "$r" -ge 6 ] && break
done
check "SIGKILL at random moments during $rounds imports: $mid landed mid-import (staging left), $done_rounds had finished" '[ "$mid" -ge 1 ]'
incomplete=0
for d in "$D"/models/k*; do
  [ -e "$d" ] || continue
  cmp -s "$tmp/big.gguf" "$d/big.gguf" || incomplete=$((incomplete + 1))
done
check "every killed import is absent or complete (byte-identical)" '[ "$incomplete" = 0 ]'
check "every model.json parses" 'mj_all_parse "$D"'
check "nothing hidden or temporary is listed" 'ids_clean "$D"'
n=$(states "$D" | wc -w)
if nr=$(not_ready "$D"); then ok "every listed model is ready ($n models)"; else bad "every listed model is ready" "$nr"; fi
"$J" --data-dir "$D" models import "$tmp/big.gguf" --id k1 >/dev/null 2>&1 || "$J" --data-dir "$D" models import "$tmp/big.gguf" --id again >/dev/null 2>&1
check "an import after the kills works" '[ -d "$D/models/k1" ] || [ -d "$D/models/again" ]'
rm -rf "$D"

# ---- model.json rewrites killed ------------------------------------------------------------
D=$tmp/rw
mkdir -p "$D/models"
for round in 1 2 3; do
  n_before=$(ls "$D/models" | wc -l)
  WATCH=1 start_server "rw$round" "$D"
  "$py" - "$url" "$tmp/small.gguf" "$D/models" "$round" >/dev/null 2>&1 <<'EOF' &
import http.client, json, os, shutil, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
src, models, rnd = sys.argv[2], sys.argv[3], sys.argv[4]
t_end = time.time() + 3
i = 0
while time.time() < t_end:  # until the server is gone (or 3 s)
    i += 1
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
        c.request("POST", "/v1/models/import", json.dumps({"path": src, "id": "r%s-api%d" % (rnd, i), "mode": "copy"}))
        c.getresponse().read()
        c.close()
    except Exception:
        break
    if i % 4 == 0:  # a GGUF dropped into a new folder: the watcher writes its model.json in place
        os.makedirs("%s/r%s-drop%d" % (models, rnd, i), exist_ok=True)
        shutil.copy(src, "%s/r%s-drop%d/m.gguf" % (models, rnd, i))
EOF
  lp=$!
  # once the loop has made a few models (a loaded machine starts slowly), a random moment
  wait_for 10 bash -c "[ \$(ls '$D/models' | wc -l) -ge $((n_before + 3)) ]"
  msleep $((100 + RANDOM % 600))
  kill -9 "$spid"; wait "$spid" 2>/dev/null
  wait "$lp" 2>/dev/null  # it stops at its first failed request (never killed mid-copy)
  n=$(ls "$D/models" | wc -l)
  check "round $round: every model.json parses after SIGKILL ($n folders)" 'mj_all_parse "$D"'
  check "round $round: nothing hidden or temporary is listed" 'ids_clean "$D"'
  n=$(states "$D" | wc -w)
  if nr=$(not_ready "$D"); then ok "round $round: every listed model is ready ($n models)"; else bad "round $round: every listed model is ready" "$nr $(tail -3 "$tmp/list.err")"; fi
done
tmpfiles=$(find "$D/models" -name '*.tmp.*' | wc -l)
stages=$(find "$D/models" -maxdepth 1 -name '.import-*' | wc -l)
note "left on disk by the kills: $tmpfiles temporary model.json files, $stages staging folders (not listed; see docs/security.md)"

# ---- download killed mid-body, then resumed -----------------------------------------------
mkdir -p "$tmp/files"
cp "$tmp/dl.gguf" "$tmp/four.gguf" "$tmp/files/"
"$py" "$loaddir/range_server.py" "$tmp/files" --rate 6000000 >"$tmp/rs.port" 2>"$tmp/rs.log" &
pids+=($!)
wait_for 5 test -s "$tmp/rs.port" || { echo "FAIL: range_server did not start"; exit 1; }
RS=http://127.0.0.1:$(head -1 "$tmp/rs.port")
# rs_mark: later rs_new prints only the server's log lines written after the mark.
rs_mark() { sleep 0.2; rs_from=$(($(wc -l <"$tmp/rs.log") + 1)); }
rs_new() { tail -n +"$rs_from" "$tmp/rs.log"; }
D=$tmp/dl
size=$(stat -c %s "$tmp/dl.gguf")
"$J" --data-dir "$D" models pull "$RS/slow/dl.gguf" --id dl >/dev/null 2>"$tmp/pull1.err" &
p=$!
part=$D/models/dl/dl.gguf.part
partsize() { stat -c %s "$part" 2>/dev/null || echo 0; }
wait_for 10 bash -c "[ \$(stat -c %s '$part' 2>/dev/null || echo 0) -ge 3000000 ]"
kill -9 "$p"; wait "$p" 2>/dev/null
s1=$(partsize)
check "pull killed mid-body: the .part holds $s1 of $size bytes" '[ "$s1" -gt 0 ] && [ "$s1" -lt "$size" ]'
check "the killed pull leaves a parsable model.json" 'mj_all_parse "$D"'
rs_mark
"$J" --data-dir "$D" models pull dl >/dev/null 2>"$tmp/pull2.err"; rc=$?
wait_for 3 bash -c "tail -n +$rs_from '$tmp/rs.log' | grep -q '^end /slow/dl.gguf'"  # the server logs after its last byte
check "pull ID resumes and finishes (exit $rc), byte-identical" '[ $rc = 0 ] && cmp -s "$tmp/dl.gguf" "$D/models/dl/dl.gguf" && [ ! -e "$part" ]' "$(cat "$tmp/pull2.err")"
check "the resume asked Range from exactly the .part size ($s1) and got the rest ($((size - s1)) bytes)" \
  "rs_new | grep -q '^end /slow/dl.gguf range=$s1 sent=$((size - s1))\$' && ! rs_new | grep -q 'range=-'" "$(rs_new)"
sha=$(sha256sum "$tmp/dl.gguf" | cut -d' ' -f1)
check "the resumed model is ready with the whole file's sha256" \
  "[ \"\$(\"$J\" --data-dir '$D' models show dl --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[\"state\"], d[\"metadata\"][\"sha256\"])')\" = 'ready $sha' ]"

# the same through the server: POST /v1/models, serve killed, restarted, download restarted
start_server dl1 "$D"
post /v1/models "{\"source_url\":\"$RS/slow/dl.gguf\",\"id\":\"sdl\"}"
expect "POST /v1/models starts a download" 200 'd["state"] == "downloading"'
part=$D/models/sdl/dl.gguf.part
wait_for 10 bash -c "[ \$(stat -c %s '$part' 2>/dev/null || echo 0) -ge 3000000 ]"
kill -9 "$spid"; wait "$spid" 2>/dev/null
s2=$(partsize)
check "serve killed mid-download: the .part holds $s2 of $size bytes" '[ "$s2" -gt 0 ] && [ "$s2" -lt "$size" ]'
rs_mark
start_server dl2 "$D"
req GET /v1/models/sdl
expect "after the restart the model is listed, not ready" 200 'd["state"] != "ready"'
sleep 0.3
if [ -n "$(rs_new)" ]; then note "the restarted server resumed the download by itself"
else
  note "the restarted server did not resume the download by itself (store_resume_downloads is not called by serve)"
  post /v1/models/sdl/download ''
  expect "POST /v1/models/sdl/download restarts it" 200 '"error" not in d'
fi
curl -sN --max-time 20 "$url/v1/models/sdl/download" >"$tmp/sse" 2>/dev/null
check "the resumed download reaches done, byte-identical" \
  'grep -q "\"state\":\"done\"" "$tmp/sse" && cmp -s "$tmp/dl.gguf" "$D/models/sdl/dl.gguf"' "$(tail -c 300 "$tmp/sse")"
check "it resumed with Range from the .part size ($s2), not from zero" \
  "rs_new | grep -q '^begin /slow/dl.gguf range=$s2\$' && ! rs_new | grep -q 'range=-'" "$(rs_new)"
kill -TERM "$spid"; wait "$spid"

# ---- a full disk ---------------------------------------------------------------------------
small=$tmp/small
mkdir -p "$small"
if mount -t tmpfs -o size=2m tmpfs "$small" 2>/dev/null; then
  on_exit+=("umount '$small'")
  D=$small/data
  "$J" --data-dir "$D" models import "$tmp/small.gguf" --id keep >/dev/null 2>&1
  mj_before=$(sha256sum "$D/models/keep/model.json" "$D/models/keep/small.gguf")
  "$J" --data-dir "$D" models import "$tmp/four.gguf" --id four >"$tmp/out" 2>"$tmp/err"; rc=$?
  check "import into a full disk: exit 1, one line naming the lack of space" \
    '[ $rc = 1 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -qi "space" "$tmp/err"' "rc $rc: $(cat "$tmp/err")"
  check "the failed import left no model and no staging folder" \
    '[ ! -e "$D/models/four" ] && [ -z "$(ls -A "$D/models" | grep -v -x keep)" ]' "$(ls -A "$D/models")"
  "$J" --data-dir "$D" models pull "$RS/fast/four.gguf" --id fourdl >"$tmp/out" 2>"$tmp/err"; rc=$?
  check "pull into a full disk: exit 1, naming the lack of space" \
    '[ $rc = 1 ] && grep -qi "space" "$tmp/err"' "rc $rc: $(cat "$tmp/err")"
  s3=$(stat -c %s "$D/models/fourdl/four.gguf.part" 2>/dev/null || echo 0)
  check "the partial download is kept for later ($s3 bytes)" '[ "$s3" -gt 0 ]'
  check "the model already there is intact" \
    '[ "$mj_before" = "$(sha256sum "$D/models/keep/model.json" "$D/models/keep/small.gguf")" ] && [ "$(states "$D" | tr " " "\n" | grep "^keep=")" = keep=ready ]'
  check "every model.json on the full disk parses" 'mj_all_parse "$D"'
  if mount -o remount,size=16m "$small" 2>/dev/null; then
    rs_mark
    "$J" --data-dir "$D" models pull fourdl >/dev/null 2>"$tmp/err"; rc=$?
    check "with space again, pull ID finishes, byte-identical" '[ $rc = 0 ] && cmp -s "$tmp/four.gguf" "$D/models/fourdl/four.gguf"' "$(cat "$tmp/err")"
    check "it resumed from the kept .part ($s3 bytes)" "rs_new | grep -q '^begin /fast/four.gguf range=$s3\$'" "$(rs_new)"
  else
    note "SKIP the resume after a full disk: remount not allowed"
  fi
else
  note "SKIP full disk: mount -t tmpfs is not allowed here (needs root)"
fi

# ---- allocation failures -------------------------------------------------------------------
if [ $have_shared = 1 ] && grep -qa "AddressSanitizer" "$J"; then
  note "SKIP allocation failures: a sanitizer build reserves terabytes of address space, so ulimit -v cannot apply"
elif [ $have_shared = 1 ]; then
  python3 "$loaddir/gguf_set.py" "$model" "$tmp/huge.gguf" llama.context_length 16777216
  (ulimit -v 1000000; exec "$J" run "$tmp/huge.gguf" -p hi -n 2 -c 4194304) >/dev/null 2>"$tmp/err"; rc=$?
  check "a 4M-token KV cache under ulimit -v 1 GB: exit 1 with a message ($(head -c 90 "$tmp/err"))" \
    '[ $rc = 1 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -qi "memory" "$tmp/err"'
  # the lowest limit at which the program itself loads, then a sweep above it
  low=0
  for v in $(seq 8000 2000 60000); do (ulimit -v $v; exec "$J" --help) >/dev/null 2>&1 && { low=$v; break; }; done
  syn=$shared/testdata/models/syn-a-f32.gguf
  sig=0 n1=0 n0=0 bad1=0 runs=0
  for v in $(seq "$low" 1500 $((low + 60000))); do
    for m in "$model" "$syn"; do
      [ -f "$m" ] || continue
      runs=$((runs + 1))
      (ulimit -v $v; exec "$J" run "$m" -p "Once" -n 4 -t 2 --temp 0) >/dev/null 2>"$tmp/err"; rc=$?
      case $rc in
        0) n0=$((n0 + 1)) ;;
        1) n1=$((n1 + 1)); [ "$(wc -l <"$tmp/err")" = 1 ] || { bad1=$((bad1 + 1)); echo "  ulimit -v $v: $(cat "$tmp/err")"; } ;;
        *) sig=$((sig + 1)); echo "  ulimit -v $v $m: rc $rc $(head -c 200 "$tmp/err")" ;;
      esac
    done
  done
  check "ulimit -v sweep from $low kB, $runs runs: $n1 failed with one line, $n0 ran, none died of a signal" \
    '[ $sig = 0 ] && [ $bad1 = 0 ] && [ $n1 -ge 1 ] && [ $n0 -ge 1 ]'
  D=$tmp/mem
  tiny_model "$D" tiny 256 1
  mkdir -p "$D/models/huge"
  cp "$tmp/huge.gguf" "$D/models/huge/"
  echo '{"source_url": "file:///huge.gguf", "settings": {"ctx_len": 1048576, "n_parallel": 1}}' >"$D/models/huge/model.json"
  ulimit_serve() { (ulimit -v 600000; exec "$bin" --data-dir "$D" serve --port 0 --threads 1 --no-watch) >"$tmp/mem.out" 2>"$tmp/mem.err" & spid=$!; pids+=("$spid"); }
  ulimit_serve
  wait_for 10 grep -q http "$tmp/mem.out"; url=$(grep -o 'http://[^ ]*' "$tmp/mem.out")
  req POST /v1/models/huge/start
  expect_err "serve under ulimit -v: a start whose KV cache cannot be allocated is 500 model_load_failed" 500 \
    'd["error"]["code"] == "model_load_failed" and "memory" in d["error"]["message"]'
  post /v1/completions '{"model":"tiny","prompt":"Once","max_tokens":3}'
  expect "and the server keeps serving other models" 200 'd["usage"]["completion_tokens"] == 3'
  kill -TERM "$spid"; wait "$spid"; rc=$?
  check "serve exits 0 after the failed allocation" '[ $rc = 0 ]' "rc $rc"
else
  note "SKIP allocation failures: no $model (../shared is needed)"
fi
check_sanitizer_logs
finish

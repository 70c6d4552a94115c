# tests/load/lib.sh — shared shell helpers for tests/e2e_hardening.sh,
# tests/e2e_faults.sh, tests/e2e_load.sh and bench/load.sh. Sourced, not run.
#
# Sets: src build bin shared model py tmp; defines skip ok bad (counting
# passes/fails), note, start_server (janc serve on a free loopback port with
# --port 0, its URL in $url and its pid in $spid), req/post (status in $code,
# body in $tmp/body), jt/expect (a Python expression over the JSON body),
# is_err_obj (the body is exactly an OpenAI error object), rss_kb PID, and a
# cleanup trap that stops every process started here and removes $tmp
# (extra cleanup: append commands to the array on_exit).
set -uo pipefail
src=${JANC_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
build=${JANC_BUILD:-$src/build}
bin=${JANC_BIN:-$build/janc}
shared=${JANC_SHARED:-$src/../shared}
model=$shared/testdata/models/stories260K.gguf
loaddir=$src/tests/load
skip() { echo "SKIP: $*"; exit 77; }

command -v python3 >/dev/null || skip "python3 is not installed"
command -v curl >/dev/null || skip "curl is not installed"
[ -x "$bin" ] || { echo "FAIL: no program at $bin"; exit 1; }
# The interpreter itself, not a version manager's shim (each check runs it).
py=$(python3 -c 'import sys; print(sys.executable)')
python3() { "$py" "$@"; }
# loopback only: a proxy from the environment must never be asked
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY

tmp=$(mktemp -d "/tmp/janc-${JANC_TEST_NAME:-hard}.XXXXXX")
pids=()
on_exit=()
cleanup() {
  local p c
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  for c in "${on_exit[@]}"; do eval "$c" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

passes=0 fails=0
t_start=$EPOCHREALTIME
stamp() { local us=$((${EPOCHREALTIME/./} - ${t_start/./})); printf '%3d.%02ds' $((us / 1000000)) $((us / 10000 % 100)); }
ok() { passes=$((passes + 1)); echo "ok   [$(stamp)] $1"; }
bad() { fails=$((fails + 1)); echo "FAIL [$(stamp)] $1: ${2:-}"; [ -f "$tmp/body" ] && head -c 400 "$tmp/body" && echo; }
note() { echo "note [$(stamp)] $*"; }
check() { if eval "$2"; then ok "$1"; else bad "$1" "${3:-$2}"; fi; }
finish() {
  echo "${JANC_TEST_NAME:-test}: $passes passed, $fails failed ($(stamp | tr -d ' '))"
  [ "$fails" -eq 0 ]
}

# start_server NAME DATA ARGS...: janc serve on 127.0.0.1, a free port, one compute
# thread, the folder watcher off unless WATCH=1; sets url and spid.
start_server() {
  local name=$1 data=$2; shift 2
  "$bin" --data-dir "$data" serve --port 0 --threads 1 $([ "${WATCH:-0}" = 1 ] || echo --no-watch) "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  spid=$!
  pids+=("$spid")
  url=""
  local _
  for _ in $(seq 150); do
    url=$(grep -o 'http://[^ ]*' "$tmp/$name.out" 2>/dev/null | head -1)
    [ -n "$url" ] && break
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "FAIL: the server $name did not start"; cat "$tmp/$name.err"; exit 1; }
}
# req METHOD PATH [curl args...]: status in $code, body in $tmp/body.
req() {
  local m=$1 p=$2; shift 2
  code=$(curl -s --max-time 20 --path-as-is -o "$tmp/body" -w '%{http_code}' -X "$m" "$url$p" "$@")
}
post() { local p=$1 d=$2; shift 2; req POST "$p" -H 'Content-Type: application/json' --data-binary "$d" "$@"; }
# jt EXPR: a Python expression over d (the JSON body) is true.
jt() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1],"rb")); sys.exit(0 if eval(sys.argv[2]) else 1)' "$tmp/body" "$1" 2>/dev/null; }
# The body is exactly {"error":{"message":str,"type":str,"param":str|null,"code":str|null}}.
ERR_OBJ='set(d) == {"error"} and set(d["error"]) == {"message", "type", "param", "code"} and isinstance(d["error"]["message"], str) and len(d["error"]["message"]) > 0 and isinstance(d["error"]["type"], str) and (d["error"]["param"] is None or isinstance(d["error"]["param"], str)) and (d["error"]["code"] is None or isinstance(d["error"]["code"], str))'
expect() { # NAME STATUS EXPR
  if [ "$code" = "$2" ] && jt "$3"; then ok "$1"; else bad "$1" "status $code (want $2) or check failed: $3"; fi
}
# expect_err NAME STATUS [EXTRA-EXPR]: status and an OpenAI error object (and EXTRA).
expect_err() {
  local x=${3:-True}
  if [ "$code" = "$2" ] && jt "($ERR_OBJ) and ($x)"; then ok "$1"; else bad "$1" "status $code (want $2 with an error object; $x)"; fi
}
health_ok() { [ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$url/health")" = 200 ]; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# wait_for SECONDS CMD...: polls CMD every 20 ms until it succeeds; 1 on timeout.
wait_for() {
  local end=$((${EPOCHREALTIME/./} + ${1%.*} * 1000000)); shift
  while ! "$@"; do
    [ "${EPOCHREALTIME/./}" -lt "$end" ] || return 1
    sleep 0.02
  done
}
# A sanitizer build reports in the server logs; a release build never writes these words.
check_sanitizer_logs() {
  if grep -l "runtime error\|AddressSanitizer\|LeakSanitizer" "$tmp"/*.err 2>/dev/null; then
    bad "sanitizers" "$(grep -h -A5 "runtime error\|Sanitizer" "$tmp"/*.err | head -20)"
  else
    ok "no sanitizer reports in the server logs"
  fi
}
# tiny_model DATA ID CTX NPAR: a model folder whose file is a symlink to stories260K.
tiny_model() {
  mkdir -p "$1/models/$2"
  ln -s "$model" "$1/models/$2/stories260K.gguf"
  printf '{"source_url": "file://%s", "settings": {"ctx_len": %d, "n_parallel": %d}}\n' "$model" "$3" "$4" \
    >"$1/models/$2/model.json"
}
# run_probe [ARGS...] <<'PY' ... PY: runs Python checks in one process with p, a
# probe.Probe on $url (see tests/load/probe.py), and is_err_obj, argv = ARGS;
# its ok/FAIL lines count towards this script's totals.
run_probe() {
  local out line
  out=$({ printf 'import sys, json\nsys.path.insert(0, %s)\nfrom probe import Probe, is_err_obj\np = Probe(%s, %s)\nargv = sys.argv[1:]\n' \
            "'$loaddir'" "'$url'" "$t_start"; cat; printf '\np.done()\n'; } | python3 - "$@" 2>&1)
  while IFS= read -r line; do
    case $line in
      "probe: "*) set -- $line; passes=$((passes + $2)); fails=$((fails + $4)) ;;
      *) echo "$line" ;;
    esac
  done <<<"$out"
  grep -q '^probe: ' <<<"$out" || { fails=$((fails + 1)); echo "FAIL a probe block did not finish"; }
}

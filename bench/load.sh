#!/usr/bin/env bash
# bench/load.sh — a longer, bounded load run of `janc serve` on loopback
# (prints numbers; asserts nothing; tests/e2e_load.sh is the short checked one).
#
#   bench/load.sh [MODEL.gguf]   (default ../shared/testdata/models/stories260K.gguf)
#
# One server (--threads BENCH_THREADS, --queue 4 x n_parallel) with the model
# at ctx_len 512 and n_parallel BENCH_PAR. Then, with tests/load/loadgen.py:
#   1. for each client count in BENCH_CLIENTS, BENCH_SECS seconds of chat and
#      text completions (every other one streaming, max_tokens BENCH_TOKENS):
#      requests/s, p50/p99/max latency, and whether every reply was a
#      complete 200;
#   2. a burst of 4 x (slots + queue) long generations: how many 200 / 503;
#   3. VmRSS of the server over BENCH_REQUESTS cheap requests (max_tokens 4),
#      sampled at 1, 10%, 50% and 100%.
# Environment: JANC_BIN (default build/janc), BENCH_CLIENTS (default "1 2 4 8"),
# BENCH_SECS (default 15), BENCH_TOKENS (default 16), BENCH_PAR (default 4),
# BENCH_THREADS (default 1: the test models are too small to gain from more), BENCH_REQUESTS (default 10000).
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${JANC_BIN:-$src/build/janc}
model=${1:-$src/../shared/testdata/models/stories260K.gguf}
clients=${BENCH_CLIENTS:-1 2 4 8}
secs=${BENCH_SECS:-15}
ntok=${BENCH_TOKENS:-16}
npar=${BENCH_PAR:-4}
threads=${BENCH_THREADS:-1}
nreq=${BENCH_REQUESTS:-10000}
[ -x "$bin" ] || { echo "no program at $bin (build first)"; exit 1; }
[ -f "$model" ] || { echo "no model at $model"; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed"; exit 1; }
lg="$src/tests/load/loadgen.py"

tmp=$(mktemp -d /tmp/janc-bench-load.XXXXXX)
spid=""
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
mkdir -p "$tmp/data/models/m"
ln -s "$(realpath "$model")" "$tmp/data/models/m/$(basename "$model")"
printf '{"source_url": "file://%s", "settings": {"ctx_len": 512, "n_parallel": %d}}\n' "$(realpath "$model")" "$npar" \
  >"$tmp/data/models/m/model.json"
"$bin" --data-dir "$tmp/data" serve --port 0 --threads "$threads" --no-watch >"$tmp/out" 2>"$tmp/err" &
spid=$!
url=""
for _ in $(seq 100); do
  url=$(grep -o 'http://[^ ]*' "$tmp/out" 2>/dev/null | head -1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "the server did not start"; cat "$tmp/err"; exit 1; }
curl -s "$url/v1/completions" -d '{"model":"m","prompt":"Once","max_tokens":2}' >/dev/null

echo "model $(basename "$model"), n_parallel $npar, --threads $threads, max_tokens $ntok, $secs s per row, $(nproc) CPUs"
printf '%8s %9s %8s %8s %8s %8s  %s\n' clients requests req/s p50_ms p99_ms max_ms "all complete 200"
for c in $clients; do
  python3 "$lg" mix "$url" m --clients "$c" --seconds "$secs" --max-tokens "$ntok" >"$tmp/mix.json"
  python3 - "$c" "$tmp/mix.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[2]))
print("%8s %9d %8.1f %8.1f %8.1f %8.1f  %s" % (sys.argv[1], d["sent"], d["rps"], d["p50_ms"], d["p99_ms"], d["max_ms"],
      "yes" if d["ok"] == d["sent"] else "NO: %s %s" % (d["status"], d["bad"][:2])))
EOF
done

burst=$((4 * (npar + 4 * npar)))
python3 "$lg" burst "$url" m --clients "$burst" --max-tokens 400 >"$tmp/burst.json"
echo "burst of $burst long generations (slots $npar + queue $((4 * npar))): $(cat "$tmp/burst.json")"

marks="1,$((nreq / 10)),$((nreq / 2)),$nreq"
python3 "$lg" rss "$url" m "$spid" --requests "$nreq" --at "$marks" >"$tmp/rss.json"
python3 - "$tmp/rss.json" "$nreq" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
r = d["rss_kb"]
ks = sorted(r, key=int)
print("VmRSS over %s requests (max_tokens 4, %.0f req/s): %s; growth from request %s to %s: %+d kB; %d ok"
      % (sys.argv[2], d["rps"], ", ".join("%s: %d kB" % (k, r[k]) for k in ks), ks[1], ks[-1], r[ks[-1]] - r[ks[1]], d["ok"]))
EOF

#!/usr/bin/env bash
# bench/server.sh — measures `janc serve` (prints numbers; asserts nothing):
#   1. GET /v1/models requests/s on loopback (wrk when installed — tried with
#      apt-get as root — else build/bench_server_load), keep-alive;
#   2. generation throughput of 1 stream vs 4 concurrent streams on one
#      model with n_parallel 4 (continuous batching), and their ratio.
#
#   bench/server.sh [MODEL.gguf | synth]  (default ../shared/testdata/models/stories260K.gguf)
# "synth" makes (once, in bench/out/, with build/bench_quant_synth) a memory-bound
# 155M-parameter F16 llama (dim 1024, 8 layers, vocab 32000; 312 MB), where one
# decode step costs about the same for 1 or 4 tokens — the case batching is for.
# The test models are so small that compute, not memory, bounds them, so their
# 4-stream gain is small whatever the scheduler does.
# Environment: JANC_BIN (default build/janc), BENCH_SECS (default 5),
# BENCH_TOKENS per stream (default 400), BENCH_REPS (default 3; the best run counts), BENCH_THREADS per model (default: all CPUs),
# BENCH_LIST models in the folder (default 5; each costs the store ~7 us per listing).
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${JANC_BIN:-$src/build/janc}
model=${1:-$src/../shared/testdata/models/stories260K.gguf}
secs=${BENCH_SECS:-5}
ntok=${BENCH_TOKENS:-400}
reps=${BENCH_REPS:-3}
threads=${BENCH_THREADS:-0}
nlist=${BENCH_LIST:-5}
[ -x "$bin" ] || { echo "no program at $bin (build first)"; exit 1; }
if [ "$model" = synth ]; then
  model=$src/bench/out/server-synth-1024x8-f16.gguf
  if [ ! -f "$model" ]; then
    synth=$(dirname "$bin")/bench_quant_synth
    [ -x "$synth" ] || { echo "no $synth (ninja -C build bench_quant_synth)"; exit 1; }
    mkdir -p "$src/bench/out"
    "$synth" "$model" --dim 1024 --layers 8 --heads 16 --kv-heads 4 --ffn 2816 --vocab 32000 --ctx 2048 >/dev/null || exit 1
  fi
fi
[ -f "$model" ] || { echo "no model at $model"; exit 1; }

tmp=$(mktemp -d /tmp/janc-bench-server.XXXXXX)
spid=""
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir -p "$tmp/data/models/m"
ln -s "$(realpath "$model")" "$tmp/data/models/m/model.gguf"
printf '{"source_url":"file://%s","settings":{"ctx_len":%d,"n_parallel":4}}\n' "$model" $((ntok + 64)) >"$tmp/data/models/m/model.json"
for i in $(seq 2 "$nlist"); do mkdir -p "$tmp/data/models/m$i"; ln -s "$(realpath "$model")" "$tmp/data/models/m$i/model.gguf"; done
"$bin" --data-dir "$tmp/data" serve --port 0 --threads "$threads" --no-watch >"$tmp/out" 2>"$tmp/err" &
spid=$!
url=""
for _ in $(seq 100); do
  url=$(grep -o 'http://[^ ]*' "$tmp/out" 2>/dev/null | head -1); [ -n "$url" ] && break; sleep 0.1
done
[ -n "$url" ] || { echo "the server did not start"; cat "$tmp/err"; exit 1; }
hostport=${url#http://}
echo "server: $url, model $(basename "$model"), $(nproc) CPUs"

echo "== GET /v1/models ($nlist models in the list), ${secs}s, keep-alive, 16 connections"
if ! command -v wrk >/dev/null && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 || true
fi
if command -v wrk >/dev/null; then
  wrk -t2 -c16 -d"${secs}s" "$url/v1/models" | grep -E "Requests/sec|Latency|Non-2xx"
else
  load=${JANC_LOAD:-$(dirname "$bin")/bench_server_load}
  [ -x "$load" ] || { echo "no wrk and no $load (ninja -C build bench_server_load)"; exit 1; }
  "$load" "${hostport%:*}" "${hostport#*:}" /v1/models 16 "$secs"
fi

echo "== generation: 1 stream vs 4 concurrent streams, $ntok tokens each"
body="{\"model\":\"m\",\"prompt\":\"Once upon a time\",\"max_tokens\":$ntok,\"ignore_eos\":true,\"temperature\":0.8,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
curl -s "$url/v1/completions" -d "${body/\"stream\":true/\"stream\":false}" >/dev/null # load the model
run_streams() { # N: prints total completion tokens and seconds
  local n=$1 t0 t1
  t0=$(date +%s.%N)
  local cp=()
  for i in $(seq "$n"); do curl -sN "$url/v1/completions" -d "$body" >"$tmp/s$i" & cp+=($!); done
  wait "${cp[@]}"
  t1=$(date +%s.%N)
  local tok=0
  for i in $(seq "$n"); do
    k=$(grep -o '"completion_tokens":[0-9]*' "$tmp/s$i" | tail -1 | cut -d: -f2)
    tok=$((tok + ${k:-0}))
  done
  python3 -c "print($tok, round($t1 - $t0, 3))"
}
runs1=() runs4=()
for _ in $(seq "$reps"); do # interleaved, so that a busy moment hurts both
  runs1+=("$(run_streams 1)")
  runs4+=("$(run_streams 4)")
done
python3 - "$reps" "${runs1[@]}" "${runs4[@]}" <<'EOF'
import sys
n = int(sys.argv[1])
runs = [tuple(map(float, a.split())) for a in sys.argv[2:]]
best = lambda rs: max(rs, key=lambda r: r[0] / r[1])
(t1, s1), (t4, s4) = best(runs[:n]), best(runs[n:])
t1, t4 = int(t1), int(t4)
r1, r4 = t1 / s1, t4 / s4
print(f"1 stream:  {t1} tokens in {s1:.2f} s = {r1:.1f} tokens/s")
print(f"4 streams: {t4} tokens in {s4:.2f} s = {r4:.1f} tokens/s in total")
print(f"ratio (4 streams / 1 stream): {r4 / r1:.2f}x   (best of {n} runs each)")
EOF

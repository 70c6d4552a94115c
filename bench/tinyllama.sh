#!/usr/bin/env bash
# The CPU benchmark of issue 8, in one run:
#   1. makes a model shaped like TinyLlama 1.1B (dim 2048, 22 layers, 32 heads,
#      4 KV heads, FFN 5632, vocabulary 32000) with random F16 weights, with
#      janc's own writer (build/bench_quant_synth), and quantizes it with
#      `janc quantize` to Q4_K_M, Q8_0, Q4_0 and Q6_K (cached in bench/out/);
#   2. measures this machine's memory read bandwidth (build/bench_base_bandwidth);
#   3. runs `janc bench -p 512 -n 0 -t 2` on each file, then TG_PAIRS times
#      (default 5) measures the read bandwidth of that file's own mapped pages
#      (bench_base_bandwidth -f) and runs `janc bench -p 0 -n 128 -t 2 -r 1`,
#      and measures the bandwidth once more at the end: on this VM the
#      bandwidth moves by a third within a minute and with where the pages
#      are, so each tg run is bounded by the bandwidth measured right before
#      and right after it;
#   4. reports pp512 tokens/s, tg128 tokens/s (mean ± sd of the runs), and tg
#      as a fraction of its limit (tokens/s × bytes of weights read per token
#      / the mean of the two bandwidths around the run): the median over the
#      runs and the range, next to the targets of issue 8.
# Usage: bench/tinyllama.sh [TYPES...]   (default: Q4_K_M Q8_0 Q4_0 Q6_K)
# Environment: JANC_BUILD (default build), BENCH_OUT (default bench/out),
# THREADS (2), REPS (3, pp repetitions), TG_PAIRS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${JANC_BUILD:-build}
out=${BENCH_OUT:-bench/out}
threads=${THREADS:-2}
reps=${REPS:-3}
pairs=${TG_PAIRS:-5}
types=("$@")
[ ${#types[@]} -gt 0 ] || types=(Q4_K_M Q8_0 Q4_0 Q6_K)
mkdir -p "$out"
ninja -C "$build" janc bench_quant_synth bench_base_bandwidth >/dev/null

base="$out/tinyllama-F16.gguf"
if [ ! -f "$base" ]; then
  echo "making $base (random weights, TinyLlama 1.1B shape)"
  "$build/bench_quant_synth" "$base"
fi
for t in "${types[@]}"; do
  f="$out/tinyllama-$t.gguf"
  if [ ! -f "$f" ]; then
    echo "quantizing to $t"
    "$build/janc" quantize "$base" "$f" "$t" >/dev/null
  fi
done

bw_json=$("$build/bench_base_bandwidth" -t "$threads" -r 7 --json)
echo "bandwidth: $bw_json"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results=()
for t in "${types[@]}"; do
  f="$out/tinyllama-$t.gguf"
  echo "bench $t"
  "$build/janc" bench "$f" -p 512 -n 0 -t "$threads" -r "$reps" --json >"$tmp/pp.json"
  for i in $(seq 1 "$pairs"); do
    "$build/bench_base_bandwidth" -t "$threads" -r 3 -f "$f" --json >"$tmp/bw$i.json"
    "$build/janc" bench "$f" -p 0 -n 128 -t "$threads" -r 1 --json >"$tmp/tg$i.json"
  done
  "$build/bench_base_bandwidth" -t "$threads" -r 3 -f "$f" --json >"$tmp/bw$((pairs + 1)).json"
  "$build/janc" inspect "$f" --json >"$tmp/inspect.json"
  results+=("$(python3 - "$t" "$tmp" "$pairs" <<'PY'
import json, sys
t, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
insp = json.load(open(d + "/inspect.json"))
pp = json.load(open(d + "/pp.json"))
tg = [json.load(open(d + f"/tg{k}.json"))["results"][0]["tps"] for k in range(1, n + 1)]
bw = [json.load(open(d + f"/bw{k}.json"))["read_gbs"] for k in range(1, n + 2)]
bench = {"results": pp["results"]}
# bytes per block and elements per block of the ggml types in these files
BLK = {"F32": (1, 4), "F16": (1, 2), "BF16": (1, 2), "Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22),
       "Q5_1": (32, 24), "Q8_0": (32, 34), "Q2_K": (256, 84), "Q3_K": (256, 110), "Q4_K": (256, 144),
       "Q5_K": (256, 176), "Q6_K": (256, 210), "IQ4_NL": (32, 18), "IQ4_XS": (256, 136)}
per_tok = 0
for ten in insp["tensors"]:
    n = 1
    for d in ten["shape"]: n *= d
    be, bb = BLK[ten["type"]]
    size = n // be * bb
    if ten["name"] == "token_embd.weight":   # one row is read per token
        size = size // ten["shape"][1]
    per_tok += size
print(json.dumps({"type": t, "bench": bench, "tg": tg, "bytes_per_token": per_tok, "file_bw": bw}))
PY
)")
done
python3 - "$bw_json" "${results[@]}" <<'PY'
import json, statistics, sys
bw = json.loads(sys.argv[1])["read_gbs"] * 1e9
targets_pp = {"Q4_K_M": 180, "Q8_0": 160, "Q4_0": 200, "Q6_K": 150}
llamacpp = {"Q4_K_M": (119, 48), "Q8_0": (106, 27), "Q4_0": (131, 50)}
print()
print(f"memory read bandwidth: {bw/1e9:.1f} GB/s (2 threads, an allocated buffer, at the start of this run)")
print("tg/limit: per tg run, tokens/s x bytes of weights per token / the mean read bandwidth of the file's")
print("own pages right before and after it; the median over the runs [range], and the bandwidths' range")
print(f"{'type':8} {'pp512 t/s':>12} {'target':>7} {'tg128 t/s':>12} {'tg/limit':>9} {'[range]':>11} {'file GB/s':>11} "
      f"{'llama.cpp pp/tg':>16}")
for r in sys.argv[2:]:
    r = json.loads(r)
    rows = {row["test"]: row for row in r["bench"]["results"]}
    pp, tg, fbw = rows["pp512"], r["tg"], r["file_bw"]
    frac = [tg[i] * r["bytes_per_token"] / ((fbw[i] + fbw[i + 1]) / 2 * 1e9) for i in range(len(tg))]
    lc = llamacpp.get(r["type"])
    sd = statistics.stdev(tg) if len(tg) > 1 else 0.0
    print(f"{r['type']:8} {pp['tps']:7.1f}±{pp['tps_sd']:<4.1f} {targets_pp.get(r['type'], 0):7} "
          f"{statistics.mean(tg):7.1f}±{sd:<4.1f} {statistics.median(frac):8.0%} "
          f"[{min(frac):.0%}-{max(frac):.0%}] {min(fbw):5.1f}-{max(fbw):4.1f} "
          f"{(f'{lc[0]}/{lc[1]}' if lc else '-'):>16}")
PY

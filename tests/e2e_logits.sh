#!/usr/bin/env bash
# e2e_logits.sh — `janc logits` against the reference logits of the synthetic
# model in every quant type (F32, F16, Q8_0, Q4_0, Q2_K, Q3_K_M, Q4_K_M,
# Q5_K_M, Q6_K; prompts bos/short/long, prompt as one batch then one token at
# a time). Proves: NMSE(janc, exact f32 logits) <= 2 x llama.cpp's NMSE + 1e-6
# for every reference (the rule in tools/check_logits.py). Skips without ../shared.
set -uo pipefail
refs="${JANC_SHARED:-}/testdata/refs"
if [ -z "${JANC_SHARED:-}" ] || [ ! -d "$refs" ]; then
  echo "SKIP: shared test data absent"; exit 77
fi
command -v python3 >/dev/null || { echo "SKIP: python3 absent"; exit 77; }
out=$(python3 "$JANC_SHARED/tools/check_logits.py" "$JANC_BIN" "$refs"/*.json 2>&1)
rc=$?
echo "$out"
n=$(ls "$refs"/*.json | wc -l)
# every reference must pass, and there must be references at all
grep -q "^$n passed, 0 failed$" <<<"$out" || { echo "FAIL: not all $n references passed"; exit 1; }
[ "$rc" -eq 0 ] && [ "$n" -gt 0 ]

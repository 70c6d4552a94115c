#!/usr/bin/env bash
# e2e_quantize.sh — `janc quantize` from the command line: --help, a real
# conversion of the shared syn-a-f32.gguf to Q4_K_M whose tensor table
# (janc inspect) names llama.cpp's types, and one-line errors with exit
# status 1 for an unknown type, a bad file and missing arguments.
set -u
: "${JANC_BIN:?}"
if [ ! -x "$JANC_BIN" ]; then echo "SKIP: $JANC_BIN is not built"; exit 77; fi
fail=0
tmp=$(mktemp -d /tmp/janc-e2e-quant-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; else echo "ok   $1"; fi; }

"$JANC_BIN" quantize --help >"$tmp/help" 2>&1
check "--help exits 0 and lists Q4_K_M" "[ \$? -eq 0 ] && grep -q Q4_K_M '$tmp/help'"
"$JANC_BIN" quantize a.gguf b.gguf Q9_9 2>"$tmp/err"; rc=$?
check "unknown type: exit 1, one line naming it" "[ $rc -eq 1 ] && [ \$(wc -l <'$tmp/err') -eq 1 ] && grep -q Q9_9 '$tmp/err'"
printf 'not a gguf file at all' >"$tmp/bad.gguf"
"$JANC_BIN" quantize "$tmp/bad.gguf" "$tmp/out.gguf" Q8_0 2>"$tmp/err"; rc=$?
check "bad file: exit 1, names it, no output" "[ $rc -eq 1 ] && grep -q bad.gguf '$tmp/err' && [ ! -e '$tmp/out.gguf' ]"
"$JANC_BIN" quantize "$tmp/bad.gguf" 2>"$tmp/err"; rc=$?
check "missing arguments: exit 1" "[ $rc -eq 1 ]"

if [ -z "${JANC_SHARED:-}" ] || [ ! -r "$JANC_SHARED/testdata/models/syn-a-f32.gguf" ]; then
  echo "SKIP: shared test data absent; the conversion check is skipped"
  [ $fail -eq 0 ] && exit 77 || exit 1
fi
m="$JANC_SHARED/testdata/models"
"$JANC_BIN" quantize "$m/syn-a-f32.gguf" "$tmp/q.gguf" Q4_K_M -t 2 2>"$tmp/log"; rc=$?
check "Q4_K_M conversion exits 0" "[ $rc -eq 0 ]"
"$JANC_BIN" inspect --json "$tmp/q.gguf" >"$tmp/mine.json" 2>&1
"$JANC_BIN" inspect --json "$m/syn-a-Q4_K_M.gguf" >"$tmp/ref.json" 2>&1
# tensor name/type pairs, sorted, must equal llama.cpp's
pairs() { grep -o '"name":"[^"]*","type":"[^"]*"' "$1" | sort; }
check "same tensor types as llama.cpp's Q4_K_M" "[ -s '$tmp/ref.json' ] && [ \"\$(pairs '$tmp/mine.json')\" = \"\$(pairs '$tmp/ref.json')\" ] && [ -n \"\$(pairs '$tmp/ref.json')\" ]"
exit $fail

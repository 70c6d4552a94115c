#!/usr/bin/env bash
# e2e_tokenizer.sh — `janc tokenize` against the reference token ids of every
# vocabulary in ../shared/testdata/vocab that has .inp/.out test vectors
# (made by each model's own Hugging Face tokenizer), through the shared
# checker ../shared/tools/check_tokenizer.py. Also checks the command's
# contract: --add-special adds BOS, --parse-special maps special-token text to
# its id, bad input exits 1 with a message. Prints per-vocabulary pass counts;
# fails if any case fails; skips (77) without the shared data.
set -uo pipefail
JANC=${JANC_BIN:?JANC_BIN is not set}
shared=${JANC_SHARED:-../shared}
vocab=$shared/testdata/vocab
check=$shared/tools/check_tokenizer.py
if [ ! -d "$vocab" ] || [ ! -f "$check" ]; then
  echo "SKIP: $vocab or $check is absent"
  exit 77
fi
[ -x "$JANC" ] || { echo "FAIL: $JANC is not built"; exit 1; }

fail=0 total_pass=0 total_fail=0 nvocab=0
for inp in "$vocab"/*.gguf.inp; do
  gguf=${inp%.inp}
  out=$gguf.out
  [ -f "$out" ] || continue
  nvocab=$((nvocab + 1))
  log=$(python3 "$check" "$JANC" "$gguf" "$inp" "$out" 2>&1)
  rc=$?
  last=$(tail -1 <<<"$log")
  echo "$last"
  p=$(sed -nE 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/p' <<<"$last")
  f=$(sed -nE 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/p' <<<"$last")
  if [ "$rc" -ne 0 ] || [ -z "$p" ] || [ "$f" != 0 ]; then
    fail=1
    head -20 <<<"$log"
  fi
  total_pass=$((total_pass + ${p:-0})); total_fail=$((total_fail + ${f:-1}))
done
if [ "$nvocab" -lt 11 ]; then
  echo "FAIL: expected at least 11 vocabularies with test vectors, found $nvocab"
  fail=1
fi
echo "vocabularies: $nvocab, cases: $total_pass passed, $total_fail failed"

# the command's own contract, on Llama 3's vocabulary (BOS 128000, <|eot_id|> 128009)
l3=$vocab/ggml-vocab-llama-bpe.gguf
expect() { # expect NAME WANT GOT
  if [ "$2" != "$3" ]; then echo "FAIL $1: got '$3' want '$2'"; fail=1; else echo "ok   $1"; fi
}
expect "plain text" "9906 1917" "$("$JANC" tokenize "$l3" "Hello world")"
expect "--add-special adds BOS" "128000 9906 1917" "$("$JANC" tokenize --add-special "$l3" "Hello world")"
got=$("$JANC" tokenize "$l3" "<|eot_id|>")
if [ "$got" = "128009" ] || [ -z "$got" ]; then echo "FAIL special text without --parse-special: got '$got'"; fail=1
else echo "ok   special text is plain text by default ($got)"; fi
expect "--parse-special" "9906 128009" "$("$JANC" tokenize --parse-special "$l3" "Hello<|eot_id|>")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'Hello world\n' >"$tmp/in.txt"
expect "--file keeps the trailing newline" "9906 1917 198" "$("$JANC" tokenize "$l3" --file "$tmp/in.txt")"
: >"$tmp/empty.txt"
expect "empty file: an empty line" "" "$("$JANC" tokenize "$l3" --file "$tmp/empty.txt")"
if "$JANC" tokenize "$tmp/in.txt" "x" >/dev/null 2>"$tmp/err"; then
  echo "FAIL not a gguf: exit 0"; fail=1
elif [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
  echo "FAIL not a gguf: error is not one line"; cat "$tmp/err"; fail=1
else
  echo "ok   not a gguf: $(cat "$tmp/err")"
fi
# MODEL may be the id of a model in the models folder
if "$JANC" --data-dir "$tmp/data" models import "$l3" --id l3 --link >/dev/null 2>&1; then
  expect "model id from the models folder" "9906 1917" "$("$JANC" --data-dir "$tmp/data" tokenize l3 "Hello world")"
else
  echo "note: model-id lookup not checked ('janc models import' failed)"
fi
"$JANC" tokenize --bogus "$l3" x >/dev/null 2>&1; expect "unknown option exits 1" "1" "$?"
"$JANC" tokenize --help >/dev/null 2>&1; expect "--help exits 0" "0" "$?"

if [ "$fail" -ne 0 ]; then echo "e2e_tokenizer: FAILED"; exit 1; fi
echo "e2e_tokenizer: all passed"

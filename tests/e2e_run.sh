#!/usr/bin/env bash
# e2e_run.sh — `janc run`, `janc logits` and `janc bench` as a user calls
# them, on stories260K. Proves: --help exits 0; greedy output is repeatable
# and a seed makes sampling repeatable; --stop cuts the text exactly before
# the stop string; a full context ends generation cleanly; the chat reads
# stdin until /exit; a model id runs like its path; bench prints pp/tg rows with tokens/s and valid JSON;
# bad input (missing model, bad option value, a prompt longer than the
# context, token ids out of range, a malformed tokens file) exits 1 with one
# line on stderr, never a crash. Skips without ../shared.
set -uo pipefail
M="${JANC_SHARED:-}/testdata/models/stories260K.gguf"
if [ -z "${JANC_SHARED:-}" ] || [ ! -f "$M" ]; then
  echo "SKIP: shared test data absent"; exit 77
fi
J="$JANC_BIN"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
# expect_fail NAME NEEDLE CMD...: exit 1, exactly one stderr line containing NEEDLE
expect_fail() {
  local name=$1 needle=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q -- "$needle" "$tmp/err"; then ok "$name"
  else bad "$name: rc $rc, stderr: $(head -c 300 "$tmp/err")"; fi
}

for c in run logits bench; do
  if "$J" $c --help | grep -q "usage: janc $c"; then ok "$c --help"; else bad "$c --help"; fi
done

a=$("$J" run "$M" -p "Once upon a time" -n 40 --temp 0 2>/dev/null); r1=$?
b=$("$J" run "$M" -p "Once upon a time" -n 40 --temp 0 -t 1 2>/dev/null)
[ $r1 -eq 0 ] && [ -n "$a" ] && [ "$a" = "$b" ] && ok "greedy repeatable (1 or 2 threads)" || bad "greedy: '$a' vs '$b'"

a=$("$J" run "$M" -p "Tom" -n 40 --temp 1 --seed 7 2>/dev/null)
b=$("$J" run "$M" -p "Tom" -n 40 --temp 1 --seed 7 2>/dev/null)
c=$("$J" run "$M" -p "Tom" -n 40 --temp 1 --seed 8 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$c" ] && ok "seeded sampling repeatable" || bad "seed: '$a' / '$b' / '$c'"

out=$("$J" run "$M" -p "" -n 256 --temp 0 --stop "Lily" 2>/dev/null)
[ "$out" = " Once upon a time, there was a little girl named " ] && ok "--stop cuts before the stop string" || bad "--stop: '$out'"

# BOS + 15 decoded tokens fill 16 positions; the 16th sampled token needs no slot
out=$("$J" run "$M" -p "" -n 100 --temp 0 -c 16 --ids 2>"$tmp/err"); rc=$?
n=$(wc -w <<<"$out")
[ $rc -eq 0 ] && [ "$n" -eq 16 ] && grep -q "full" "$tmp/err" && ok "full context ends generation" || bad "full context: rc $rc, $n ids, $(cat "$tmp/err")"

out=$(printf 'Hello there\n/exit\nnot read\n' | "$J" run "$M" -n 12 --temp 0 2>"$tmp/err"); rc=$?
[ $rc -eq 0 ] && [ -n "$out" ] && ok "chat until /exit" || bad "chat: rc $rc $(head -c 300 "$tmp/err")"

out=$("$J" bench "$M" -p 32 -n 8 -r 2 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -Eq '\| +pp32 \| +[0-9]+\.[0-9]+ ±' <<<"$out" && grep -Eq '\| +tg8 \| +[0-9]+\.[0-9]+ ±' <<<"$out" \
   && grep -q "peak resident memory" <<<"$out"; then ok "bench table"; else bad "bench table: $out"; fi
"$J" bench "$M" -p 16 -n 4 -r 2 --json >"$tmp/b.json" 2>&1
python3 -c "
import json,sys; d=json.load(open(sys.argv[1])); r={x['test']:x for x in d['results']}
assert r['pp16']['tps'] > 0 and r['tg4']['tps'] > 0 and len(r['tg4']['samples_ts']) == 2 and d['peak_rss_bytes'] > 0
" "$tmp/b.json" && ok "bench --json" || bad "bench --json: $(head -c 300 "$tmp/b.json")"

# a model id from the models folder (imported as a link) runs like its path
data="$tmp/data"
if "$J" --data-dir "$data" models import "$M" --id stories --link >/dev/null 2>&1; then
  a=$("$J" --data-dir "$data" run stories -p "" -n 8 --temp 0 2>/dev/null)
  b=$("$J" run "$M" -p "" -n 8 --temp 0 2>/dev/null)
  [ -n "$a" ] && [ "$a" = "$b" ] && ok "model id resolves through the store" || bad "model id: '$a' vs '$b'"
else
  bad "janc models import failed, cannot check model ids"
fi

expect_fail "missing model" "no such file" "$J" run "$tmp/nope.gguf" -p hi
expect_fail "bad -n" "-n expects" "$J" run "$M" -p hi -n abc
expect_fail "unknown option" "unknown option" "$J" run "$M" --bogus
long=$(printf 'Once upon a time there was a cat. %.0s' $(seq 1 20))
expect_fail "prompt longer than the context" "longer than the context" "$J" run "$M" -p "$long" -c 32
expect_fail "prompt id out of range" "--prompt-ids" "$J" run "$M" --prompt-ids "1 999"
echo "1 600" >"$tmp/t"
expect_fail "logits: token out of range" "out of range" "$J" logits "$M" --tokens "$tmp/t" --out "$tmp/o"
echo "1 2 x3" >"$tmp/t2"
expect_fail "logits: malformed tokens" "expected a token id" "$J" logits "$M" --tokens "$tmp/t2" --out "$tmp/o"
expect_fail "logits: missing --out" "needs MODEL" "$J" logits "$M" --tokens "$tmp/t"
printf 'GGUF\3\0\0\0garbage' >"$tmp/bad.gguf"
expect_fail "run: corrupt model" "bad.gguf" "$J" run "$tmp/bad.gguf" -p hi
expect_fail "bench: nothing to measure" "nothing to measure" "$J" bench "$M" -p 0 -n 0

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

#!/usr/bin/env bash
# e2e_inspect.sh — `janc inspect` end to end: --help; every shared vocab and
# model file gives valid JSON (python3 -m json) with the right version, key
# and tensor counts and types, and a human view with header, keys, tensor table
# and totals; a hand-made GGUF with a u64 at its maximum, NaN, nested arrays
# and invalid UTF-8 gives exact, valid JSON; bad input (missing file, not
# GGUF, truncated model, unknown option, no file) exits 1 with one line on
# stderr and never a signal.
set -u
bin=${JANC_BIN:?JANC_BIN must name the janc program}
shared=${JANC_SHARED:-../shared}/testdata
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to check the JSON"; exit 77; }
tmp=$(mktemp -d /tmp/janc-e2e-inspect-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# --help: usage on stdout, exit 0
out=$("$bin" inspect --help) || fail "--help exited $?"
grep -q "usage: janc inspect FILE" <<<"$out" || fail "--help has no usage line"

# expects exit 1, exactly one line on stderr containing $2
expect_err() {
  local want=$1; shift
  "$bin" inspect "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  [ "$rc" -eq 1 ] || fail "inspect $* exited $rc, expected 1"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "inspect $*: stderr is not one line: $(cat "$tmp/err")"
  grep -qF -- "$want" "$tmp/err" || fail "inspect $*: stderr lacks '$want': $(cat "$tmp/err")"
}
expect_err "no FILE" 
expect_err "unknown option '--bogus'" --bogus x.gguf
expect_err "/nonexistent.gguf" /nonexistent.gguf
mkfifo "$tmp/fifo.gguf" && expect_err "not a regular file" "$tmp/fifo.gguf"  # must not block
expect_err "not a regular file" "$tmp"
printf 'hello, this is not a GGUF file\n' >"$tmp/text.gguf"
expect_err "bad magic" "$tmp/text.gguf"

# a hand-made file: every scalar type, u64 max, NaN, nested arrays, invalid UTF-8
python3 - "$tmp/odd.gguf" <<'EOF' || fail "could not write odd.gguf"
import struct, sys
def s(b): return struct.pack('<Q', len(b)) + b
kv = []
kv.append(s(b'u64max') + struct.pack('<IQ', 10, 2**64 - 1))
kv.append(s(b'i64min') + struct.pack('<Iq', 11, -2**63))
kv.append(s(b'nan') + struct.pack('<If', 6, float('nan')))
kv.append(s(b'f64') + struct.pack('<Id', 12, 0.1))
kv.append(s(b'f32') + struct.pack('<If', 6, 0.1))
kv.append(s(b'flag') + struct.pack('<IB', 7, 1))
kv.append(s(b'bad utf8') + struct.pack('<I', 8) + s(b'a\xff\x00b"\\\xc3\xa9\xed\xa0\x80\n'))
nested = struct.pack('<IIQ', 9, 9, 2) + struct.pack('<IQ', 4, 2) + struct.pack('<II', 1, 2) + struct.pack('<IQ', 4, 0)
kv.append(s(b'nested') + nested)
kv.append(s(b'strs') + struct.pack('<IIQ', 9, 8, 2) + s(b'x') + s(b'\xfe'))
hdr = b'GGUF' + struct.pack('<IQQ', 3, 0, len(kv))
open(sys.argv[1], 'wb').write(hdr + b''.join(kv))
EOF
"$bin" inspect "$tmp/odd.gguf" --json >"$tmp/odd.json" || fail "inspect odd.gguf --json exited $?"
python3 - "$tmp/odd.json" <<'EOF' || fail "odd.gguf JSON is wrong"
import json, sys
raw = open(sys.argv[1], 'rb').read()
raw.decode('utf-8')  # must be valid UTF-8
d = json.loads(raw)
m = d['metadata']
assert d == {'version': 3, 'metadata': m, 'tensors': []}, d
assert m['u64max'] == 18446744073709551615, m['u64max']
assert m['i64min'] == -9223372036854775808
assert m['nan'] is None
assert m['f64'] == 0.1 and abs(m['f32'] - 0.1) < 1e-8
assert m['flag'] is True
assert m['bad utf8'] == 'a\ufffd\x00b"\\\u00e9\ufffd\ufffd\ufffd\n', repr(m['bad utf8'])
assert m['nested'] == [[1, 2], []], m['nested']
assert m['strs'] == ['x', '\ufffd']
EOF
"$bin" inspect "$tmp/odd.gguf" >"$tmp/odd.txt" || fail "inspect odd.gguf exited $?"
grep -q 'u64max .* u64 *= 18446744073709551615' "$tmp/odd.txt" || fail "human view lacks the u64"
grep -q 'nested .* arr\[arr\[u32\]\] *= \[\[1, 2\], \[\]\]' "$tmp/odd.txt" || fail "human view lacks the nested array"

# types janc cannot run are still named: IQ2_XXS (16), TQ1_0 (34), MXFP4 (39), BF16 (30)
python3 - "$tmp/types.gguf" <<'EOF' || fail "could not write types.gguf"
import struct, sys
def s(b): return struct.pack('<Q', len(b)) + b
tensors = [(b'a', 256, 16, 66), (b'b', 256, 34, 54), (b'c', 64, 39, 34), (b'd', 3, 30, 6)]
info, off = b'', 0
for name, ne0, typ, size in tensors:
    info += s(name) + struct.pack('<IQIQ', 1, ne0, typ, off)
    off += (size + 31) // 32 * 32
hdr = b'GGUF' + struct.pack('<IQQ', 3, len(tensors), 0) + info
hdr += b'\0' * (-len(hdr) % 32)
open(sys.argv[1], 'wb').write(hdr + b'\0' * off)
EOF
"$bin" inspect "$tmp/types.gguf" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert [t["type"] for t in d["tensors"]] == ["IQ2_XXS", "TQ1_0", "MXFP4", "BF16"], d
assert [t["offset"] for t in d["tensors"]] == [0, 96, 160, 224], d' || fail "unrunnable types not named"
"$bin" inspect "$tmp/types.gguf" | grep -q '^ *0  a  *IQ2_XXS  *256  *66$' || fail "human view of IQ2_XXS"

# a split model opens as one from its first shard; a later shard or a missing one is an error
python3 - "$tmp" <<'EOF' || fail "could not write the split model"
import struct, sys
def s(b): return struct.pack('<Q', len(b)) + b
for k in (1, 2):
    kv = [s(b'split.no') + struct.pack('<IH', 2, k - 1), s(b'split.count') + struct.pack('<IH', 2, 2)]
    if k == 1:
        kv.append(s(b'split.tensors.count') + struct.pack('<Ii', 5, 2))
    info = s(b'w%d' % k) + struct.pack('<IQIQ', 1, 4, 0, 0)
    hdr = b'GGUF' + struct.pack('<IQQ', 3, 1, len(kv)) + b''.join(kv) + info
    hdr += b'\0' * (-len(hdr) % 32)
    open('%s/sp-%05d-of-00002.gguf' % (sys.argv[1], k), 'wb').write(hdr + struct.pack('<4f', k, k, k, k))
EOF
"$bin" inspect "$tmp/sp-00001-of-00002.gguf" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert [t["name"] for t in d["tensors"]] == ["w1", "w2"], d' || fail "split model JSON"
"$bin" inspect "$tmp/sp-00001-of-00002.gguf" | head -1 | grep -q "in 2 shards" || fail "split model header line"
expect_err "open the first shard" "$tmp/sp-00002-of-00002.gguf"
rm "$tmp/sp-00002-of-00002.gguf"
expect_err "shard 2 of 2" "$tmp/sp-00001-of-00002.gguf"

if [ ! -d "$shared" ]; then
  echo "SKIP: $shared is absent; the shared-file checks are skipped"
  [ "$fails" -eq 0 ] && exit 77 || exit 1
fi

# every shared file: valid JSON, counts and types consistent with the human view
n=0
for f in "$shared"/vocab/*.gguf "$shared"/models/*.gguf; do
  n=$((n + 1))
  "$bin" inspect "$f" --json >"$tmp/f$n.json" || fail "inspect --json $f exited $?"
  "$bin" inspect "$f" >"$tmp/f$n.txt" || fail "inspect $f exited $?"
  echo "$f" >"$tmp/f$n.path"
done
python3 - "$tmp" "$n" <<'EOF2' || fail "shared files: JSON invalid or disagreeing with the human view"
import json, re, sys
tmp, n, bad = sys.argv[1], int(sys.argv[2]), 0
for i in range(1, n + 1):
    path = open('%s/f%d.path' % (tmp, i)).read().strip()
    try:
        raw = open('%s/f%d.json' % (tmp, i), 'rb').read()
        d = json.loads(raw.decode('utf-8'))
        txt = open('%s/f%d.txt' % (tmp, i)).read()
        head = txt.splitlines()[0]
        m = re.search(r'GGUF v(\d+), (\d+) metadata keys, (\d+) tensors, alignment (\d+)', head)
        assert m, head
        assert int(m.group(1)) == d['version'] == 3
        assert int(m.group(2)) == len(d['metadata']), (m.group(2), len(d['metadata']))
        assert int(m.group(3)) == len(d['tensors'])
        assert ('/vocab/' in path) == (len(d['tensors']) == 0)
        toks = d['metadata']['tokenizer.ggml.tokens']
        assert isinstance(toks, list) and len(toks) > 500
        for t in d['tensors']:
            assert set(t) == {'name', 'type', 'shape', 'offset'}
            assert 1 <= len(t['shape']) <= 4 and t['offset'] % 32 == 0
            pat = r'\b%s\s+%s\s+%s\s+\d+' % (re.escape(t['name']), t['type'], ' x '.join(map(str, t['shape'])))
            assert re.search(pat, txt), t
        if d['tensors']:
            assert re.search(r'^total: \d+ parameters, \d+ bytes .*, [\d.]+ bits per weight$', txt, re.M)
    except Exception as e:
        print('FAIL: %s: %r' % (path, e)); bad += 1
sys.exit(1 if bad else 0)
EOF2
[ "$n" -ge 24 ] || fail "only $n shared files found"

# known facts
"$bin" inspect "$shared/models/stories260K.gguf" --json >"$tmp/s.json"
python3 - "$tmp/s.json" <<'EOF' || fail "stories260K facts"
import json, sys
d = json.load(open(sys.argv[1]))
assert d['version'] == 3 and len(d['tensors']) == 48
assert all(t['type'] == 'F32' for t in d['tensors'])
assert d['metadata']['llama.embedding_length'] == 64
assert len(d['metadata']['tokenizer.ggml.tokens']) == 512
e = [t for t in d['tensors'] if t['name'] == 'token_embd.weight'][0]
assert e['shape'] == [64, 512] and e['offset'] == 0
EOF
"$bin" inspect "$shared/models/stories260K.gguf" >"$tmp/s.txt"
grep -q '^total: 292800 parameters, 1171200 bytes (1.12 MiB), 32.00 bits per weight$' "$tmp/s.txt" || fail "stories260K totals"
grep -q 'llama.embedding_length  *u32  *= 64$' "$tmp/s.txt" || fail "stories260K embedding_length line"
"$bin" inspect "$shared/vocab/ggml-vocab-llama-spm.gguf" >"$tmp/v.txt"
grep -q 'tokenizer.ggml.tokens  *arr\[str\]  *= \["<unk>", "<s>", "</s>", ... (32000 items)\]' "$tmp/v.txt" ||
  fail "llama-spm token line: $(grep tokenizer.ggml.tokens "$tmp/v.txt")"
"$bin" inspect "$shared/models/syn-a-Q4_K_M.gguf" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
types = {t["type"] for t in d["tensors"]}
assert "Q4_K" in types and "F32" in types, types' || fail "syn-a-Q4_K_M types"

# truncated real model: refused with one line naming an offset, at several cuts
for cut in 3 24 100 5000 14000 14176 600000; do
  head -c "$cut" "$shared/models/stories260K.gguf" >"$tmp/cut.gguf"
  expect_err "offset" "$tmp/cut.gguf"
done

[ "$fails" -eq 0 ] && echo "e2e_inspect: all checks passed" && exit 0
echo "e2e_inspect: $fails failed"
exit 1

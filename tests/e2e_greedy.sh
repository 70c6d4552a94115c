#!/usr/bin/env bash
# e2e_greedy.sh — greedy generation against llama.cpp's recorded runs
# (testdata/greedy/*.llamacpp-greedy.json: stories260K, llama-2-tiny-random).
# Proves, for every case: `janc run --prompt-ids P -n N --temp 0 --ids`
# yields exactly llama.cpp's greedy token ids; for case 0 (BOS alone),
# `janc run -p "" --temp 0` prints exactly greedy_text; and `janc logits`
# over prompt + generated tokens matches the stored prompt and generation
# logits within 2e-3 absolute (llama.cpp's SIMD sums differ in order).
# Skips without ../shared.
set -uo pipefail
dir="${JANC_SHARED:-}/testdata/greedy"
if [ -z "${JANC_SHARED:-}" ] || [ ! -d "$dir" ]; then
  echo "SKIP: shared test data absent"; exit 77
fi
command -v python3 >/dev/null || { echo "SKIP: python3 absent"; exit 77; }
exec python3 - "$JANC_BIN" "$dir" "$JANC_SHARED/testdata/models" <<'PY'
import json, os, struct, subprocess, sys, tempfile, glob
janc, gdir, mdir = sys.argv[1:4]
fails = checks = 0
def fail(msg):
    global fails
    fails += 1
    print("FAIL", msg)
files = sorted(glob.glob(os.path.join(gdir, "*.llamacpp-greedy.json")))
if not files:
    print("FAIL no reference files"); sys.exit(1)
for f in files:
    ref = json.load(open(f))
    model = os.path.join(mdir, ref["model_file"])
    name = ref["model_file"]
    for ci, case in enumerate(ref["cases"]):
        P, G = case["prompt_tokens"], case["greedy_tokens"]
        ids = " ".join(map(str, P))
        r = subprocess.run([janc, "run", model, "--prompt-ids", ids, "-n", str(len(G)), "--temp", "0", "--ids", "-t", "1"],
                           capture_output=True, text=True)
        checks += 1
        got = list(map(int, r.stdout.split())) if r.returncode == 0 else None
        if got != G:
            first = next((i for i, (a, b) in enumerate(zip(got or [], G)) if a != b), None)
            fail(f"{name} case {ci}: tokens differ (rc {r.returncode}, first difference at {first}) {r.stderr[:200]}")
        else:
            print(f"ok   {name} case {ci}: {len(G)} greedy tokens identical")
        if ci == 0 and P == P[:1]:
            r = subprocess.run([janc, "run", model, "-p", "", "-n", str(len(G)), "--temp", "0"], capture_output=True)
            checks += 1
            text = r.stdout.decode("utf-8", "replace")
            if r.returncode != 0 or text != case["greedy_text"] + "\n":
                fail(f"{name} case 0: greedy text differs: {text[:80]!r}")
            else:
                print(f"ok   {name} case 0: greedy text identical ({len(text)} bytes)")
        # logits: prompt rows, then generated tokens one at a time. Full rows
        # (stories260K) or the last prompt row and the top-20 of each step.
        gl = case.get("gen_logits_first_64") or []
        pl = case.get("prompt_logits") or []
        top = case.get("gen_logits_top20") or []
        last_full = case.get("prompt_logits_last_position_full")
        n_gen = len(gl) if gl else len(top)
        toks = P + G[:n_gen]
        with tempfile.TemporaryDirectory() as td:
            tf, of = os.path.join(td, "t"), os.path.join(td, "o")
            open(tf, "w").write(" ".join(map(str, toks)))
            r = subprocess.run([janc, "logits", model, "--tokens", tf, "--out", of, "--prompt-len", str(len(P))],
                               capture_output=True, text=True)
            checks += 1
            if r.returncode != 0:
                fail(f"{name} case {ci}: janc logits failed: {r.stderr[:200]}"); continue
            raw = open(of, "rb").read()
            nrows = len(toks)
            V = len(raw) // 4 // nrows
            vals = struct.unpack("<%df" % (len(raw) // 4), raw)
            rows = [vals[i:i + V] for i in range(0, len(vals), V)]
            pairs = []  # (row index, token id, expected logit)
            for p_, row in enumerate(pl):
                pairs += [(p_, j, x) for j, x in enumerate(row)]
            for s_, row in enumerate(gl):
                pairs += [(len(P) + s_, j, x) for j, x in enumerate(row)]
            if last_full:
                pairs += [(len(P) - 1, j, x) for j, x in enumerate(last_full)]
            for s_, row in enumerate(top):
                pairs += [(len(P) + s_, j, x) for j, x in row]
            worst = max(abs(rows[r_][j] - x) for r_, j, x in pairs) if pairs else float("inf")
            if len(raw) != 4 * V * nrows or worst > 2e-3:
                fail(f"{name} case {ci}: logits max |diff| {worst:.3g} over {len(pairs)} values")
            else:
                print(f"ok   {name} case {ci}: {len(pairs)} logits, max |diff| {worst:.2e}")
print(f"{checks - fails} passed, {fails} failed")
sys.exit(1 if fails else 0)
PY

#!/usr/bin/env bash
# e2e_templates.sh — `janc template` against the shared Jinja references:
# the 278 engine cases (jinja-engine-cases.json) and the 35 real templates x
# 5 conversations rendered by Python jinja2 (reference-renders.json), via
# ../shared/tools/check_templates.py. Fails on any failure that is not listed
# in tests/tmpl_known_failures.txt, and on a listed case that now passes (so
# a fix shows up as a change to that file). Also checks the CLI contract:
# exact bytes, exit 1 with the template line on a template error.
# Skips (77) without ../shared.
set -uo pipefail
: "${JANC_BIN:?}" "${JANC_SRC:?}"
SHARED=${JANC_SHARED:-$JANC_SRC/../shared}
TD=$SHARED/testdata/templates
if [ ! -f "$TD/jinja-engine-cases.json" ] || [ ! -x "$SHARED/tools/check_templates.py" -a ! -f "$SHARED/tools/check_templates.py" ]; then
  echo "SKIP: $TD or the check tool is absent"
  exit 77
fi
if ! command -v python3 >/dev/null; then
  echo "SKIP: python3 is needed to run ../shared/tools/check_templates.py"
  exit 77
fi
known=$JANC_SRC/tests/tmpl_known_failures.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

python3 "$SHARED/tools/check_templates.py" "$JANC_BIN" cases "$TD/jinja-engine-cases.json" >"$tmp/cases.log"
python3 "$SHARED/tools/check_templates.py" "$JANC_BIN" renders "$TD/jinja" "$TD/reference-renders.json" >"$tmp/renders.log"
echo "engine cases:      $(tail -1 "$tmp/cases.log")"
echo "reference renders: $(tail -1 "$tmp/renders.log")"

# Failures as "MODE<TAB>NAME", from "FAIL name: exit ..." (cases) and "FAIL file [scenario]: ..." (renders).
{
  sed -n 's/^FAIL \(.*\): exit .*/cases\t\1/p' "$tmp/cases.log"
  sed -n 's/^FAIL \(.*\]\): exit .*/renders\t\1/p' "$tmp/renders.log"
} | sort >"$tmp/failed"
grep -v '^#' "$known" | cut -f1,2 | sort >"$tmp/known"
if ! grep -qE '[0-9]+ passed, [0-9]+ failed' "$tmp/cases.log" || ! grep -qE '[0-9]+ passed, [0-9]+ failed' "$tmp/renders.log"; then
  echo "FAIL: a check did not finish"; tail -5 "$tmp/cases.log" "$tmp/renders.log"; status=1
fi
new=$(comm -23 "$tmp/failed" "$tmp/known")
fixed=$(comm -13 "$tmp/failed" "$tmp/known")
if [ -n "$new" ]; then
  echo "FAIL: new template failures (not in tests/tmpl_known_failures.txt):"
  echo "$new"
  grep -h '^FAIL' "$tmp/cases.log" "$tmp/renders.log" | head -20
  status=1
fi
if [ -n "$fixed" ]; then
  echo "FAIL: listed as known failures but now passing (remove them from tests/tmpl_known_failures.txt):"
  echo "$fixed"
  status=1
fi
echo "known failures: $(wc -l <"$tmp/known") (see tests/tmpl_known_failures.txt)"

# CLI contract: exact bytes (no newline added), errors exit 1 naming the line.
printf 'a{{ x }}\n' >"$tmp/t.jinja"
printf '{"x": "b\\n"}' >"$tmp/v.json"
"$JANC_BIN" template --template "$tmp/t.jinja" --vars "$tmp/v.json" >"$tmp/out"
if [ "$(od -An -c "$tmp/out" | tr -d ' \n')" != 'ab\n' ]; then
  echo "FAIL: output bytes differ: $(od -An -c "$tmp/out")"; status=1
fi
printf 'ok\n{%% if x %%}\n{{ raise_exception("bad role") }}\n{%% endif %%}' >"$tmp/e.jinja"
"$JANC_BIN" template --template "$tmp/e.jinja" --vars "$tmp/v.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 1 ] || ! grep -q 'line 3' "$tmp/err" || ! grep -q 'bad role' "$tmp/err"; then
  echo "FAIL: template error: exit $rc, stderr: $(cat "$tmp/err")"; status=1
fi
"$JANC_BIN" template --template "$tmp/t.jinja" --vars /nonexistent.json >/dev/null 2>&1
[ $? -eq 1 ] || { echo "FAIL: a missing vars file must exit 1"; status=1; }

# MODEL as a .gguf path and as a model id in a data folder give the same bytes; no template is an error.
phi3=$SHARED/testdata/vocab/ggml-vocab-phi-3.gguf
if [ -f "$phi3" ]; then
  printf '{"messages":[{"role":"user","content":"Hi"}],"add_generation_prompt":true,"bos_token":"<s>","eos_token":"</s>"}' >"$tmp/chat.json"
  mkdir -p "$tmp/data/models/phi3"
  ln -s "$phi3" "$tmp/data/models/phi3/phi3.gguf"
  printf '{"source_url": "file://%s", "id": "phi3"}' "$phi3" >"$tmp/data/models/phi3/model.json"
  "$JANC_BIN" template "$phi3" --vars "$tmp/chat.json" >"$tmp/by_path" || { echo "FAIL: template of $phi3"; status=1; }
  "$JANC_BIN" --data-dir "$tmp/data" template phi3 --vars "$tmp/chat.json" >"$tmp/by_id" || { echo "FAIL: template of model id phi3"; status=1; }
  if [ ! -s "$tmp/by_path" ] || ! cmp -s "$tmp/by_path" "$tmp/by_id" || ! grep -q '<|user|>' "$tmp/by_path"; then
    echo "FAIL: template by path and by id differ or are empty"; status=1
  fi
  gpt2=$SHARED/testdata/vocab/ggml-vocab-gpt-2.gguf
  if [ -f "$gpt2" ]; then
    "$JANC_BIN" template "$gpt2" --vars "$tmp/chat.json" >/dev/null 2>"$tmp/err"
    rc=$?
    if [ $rc -ne 1 ] || ! grep -q 'chat_template' "$tmp/err"; then
      echo "FAIL: a GGUF without a chat template: exit $rc, $(cat "$tmp/err")"; status=1
    fi
  fi
fi

[ $status -eq 0 ] && echo "e2e_templates: ok"
exit $status

#!/usr/bin/env bash
# e2e_models.sh — `janc models` end to end on a temporary data folder:
# --help and bad input, import (copy/move/link), list and show (table and
# --json, the API's list shape), drop-in import at start with -2 clashes,
# a GGUF still being copied left alone, a broken model.json listed as error
# with line:col and left untouched, hostile ids, rm, $JAN_DATA_FOLDER.
# Tiny GGUFs come from tests/helpers/mkgguf.py. Skips (77) without python3.
set -u
JANC=${JANC_BIN:?JANC_BIN is the built janc}
SRC=${JANC_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
command -v python3 >/dev/null || { echo "SKIP: python3 is needed"; exit 77; }
MK="python3 $SRC/tests/helpers/mkgguf.py"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/data
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
j() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
export JANC_LOG=error

# --help and bad input
check "models --help exits 0" "$JANC models --help | grep -q 'usage: janc models'"
"$JANC" --data-dir "$D" models frobnicate 2>"$T/err"; rc=$?
check "unknown subcommand exits 1 with one line" "[ $rc = 1 ] && [ \$(wc -l <\"$T/err\") = 1 ]"
"$JANC" --data-dir "$D" models show 2>"$T/err"; check "show without id exits 1" "[ $? = 1 ]"
"$JANC" --data-dir "$D" models import 2>/dev/null; check "import without path exits 1" "[ $? = 1 ]"
"$JANC" --data-dir "$D" models list --bogus 2>/dev/null; check "list with a bad flag exits 1" "[ $? = 1 ]"

# first use creates the folder, 0700
"$JANC" --data-dir "$D" models list >/dev/null
check "models folder created 0700" "[ \"\$(stat -c %a $D/models)\" = 700 ]"

# import modes
$MK "$T/Alpha Model.gguf" --name "Alpha" --ctx 8192
id=$("$JANC" --data-dir "$D" models import "$T/Alpha Model.gguf")
check "import copies and prints the id" "[ '$id' = alpha-model ] && [ -f '$T/Alpha Model.gguf' ] && [ -f '$D/models/alpha-model/Alpha Model.gguf' ]"
id2=$("$JANC" --data-dir "$D" models import "$T/Alpha Model.gguf" --link --id alpha-link)
check "import --link makes a symlink" "[ '$id2' = alpha-link ] && [ -L '$D/models/alpha-link/Alpha Model.gguf' ]"
"$JANC" --data-dir "$D" models import "$T/Alpha Model.gguf" --id alpha-link 2>"$T/err"
check "import with an existing --id is refused" "[ $? = 1 ] && grep -q 'already exists' '$T/err'"
for evil in ../evil /abs a/b .. .hidden; do
  "$JANC" --data-dir "$D" models import "$T/Alpha Model.gguf" --id "$evil" 2>/dev/null
  check "import --id '$evil' refused" "[ $? = 1 ]"
done
check "nothing escaped the models folder" "[ ! -e '$D/evil' ] && [ ! -e /abs ] && [ ! -e '$T/evil' ]"
$MK "$T/mover.gguf"
"$JANC" --data-dir "$D" models import "$T/mover.gguf" --move >/dev/null
check "import --move moves" "[ ! -e '$T/mover.gguf' ] && [ -f '$D/models/mover/mover.gguf' ]"
echo "not a gguf" >"$T/fake.gguf"
"$JANC" --data-dir "$D" models import "$T/fake.gguf" --move 2>"$T/err"
check "a non-GGUF import fails and stays put" "[ $? = 1 ] && [ -f '$T/fake.gguf' ] && grep -q 'bad magic' '$T/err'"

# list and show
"$JANC" --data-dir "$D" models list >"$T/list"
check "list shows a table" "grep -q '^ID' '$T/list' && grep -q 'alpha-model' '$T/list' && grep -q 'ready' '$T/list'"
"$JANC" --data-dir "$D" models list --json >"$T/list.json"
check "list --json is the API list object" "[ \"\$(j 'd[\"object\"], len(d[\"data\"])' <'$T/list.json')\" = 'list 3' ]"
"$JANC" --data-dir "$D" models show alpha-model --json >"$T/show.json"
check "show --json has defaults and GGUF facts" \
  "[ \"\$(j 'd[\"object\"], d[\"state\"], d[\"name\"], d[\"settings\"][\"ctx_len\"], d[\"metadata\"][\"context_length\"], d[\"parameters\"][\"stream\"]' <'$T/show.json')\" = 'model ready Alpha 4096 8192 True' ]"
"$JANC" --data-dir "$D" models show nope 2>"$T/err"
check "show of an unknown id exits 1" "[ $? = 1 ] && grep -q 'not found' '$T/err'"

# drop-in at start: clash suffixes, a file still being copied, a broken model.json
$MK "$D/models/Alpha Model.gguf"
$MK "$D/models/ALPHA-MODEL.gguf"
$MK "$D/models/copying.gguf" --floats 4096 --truncate 2000
mkdir -p "$D/models/broken"
printf '{\n  "source_url": "x",\n  "settings": {"ctx_len": 2048,,}\n}\n' >"$D/models/broken/model.json"
cp "$D/models/broken/model.json" "$T/broken.orig"
"$JANC" --data-dir "$D" models list --json >"$T/l2.json"
ids=$(j '" ".join(m["id"] for m in d["data"])' <"$T/l2.json")
check "drop-ins imported with -2 and -3" "echo '$ids' | grep -q 'alpha-model-2' && echo '$ids' | grep -q 'alpha-model-3'"
check "a file still being copied is left alone" "[ -f '$D/models/copying.gguf' ]"
check "it is listed in the error state" "[ \"\$(j '[m[\"state\"] for m in d[\"data\"] if m[\"id\"]==\"copying\"][0]' <'$T/l2.json')\" = error ]"
berr=$(j '[m.get("error","") for m in d["data"] if m["id"]=="broken"][0]' <"$T/l2.json")
check "a broken model.json is an error with line:col ($berr)" "echo '$berr' | grep -q 'broken/model.json:3:'"
check "the table says why it is an error" "\"$JANC\" --data-dir '$D' models list | grep -q '^broken: broken/model.json:3:'"
check "and it is not rewritten" "cmp -s '$T/broken.orig' '$D/models/broken/model.json'"
$MK "$D/models/copying.gguf" --floats 4096
"$JANC" --data-dir "$D" models list >/dev/null
check "the completed copy imports at the next start" "[ ! -e '$D/models/copying.gguf' ] && [ -f '$D/models/copying/model.json' ]"

# a running state in model.json is not trusted after a restart
python3 - "$D/models/mover/model.json" <<'EOF'
import json, sys
p = sys.argv[1]; d = json.load(open(p)); d["state"] = "running"; json.dump(d, open(p, "w"))
EOF
check "state running reads as ready" "[ \"\$(\"$JANC\" --data-dir '$D' models show mover --json | j 'd[\"state\"]')\" = ready ]"

# rm
"$JANC" --data-dir "$D" models rm alpha-link >/dev/null
check "rm of a linked model keeps the target" "[ ! -e '$D/models/alpha-link' ] && [ -f '$T/Alpha Model.gguf' ]"
"$JANC" --data-dir "$D" models rm ../data 2>/dev/null
check "rm ../data is refused" "[ $? = 1 ] && [ -d '$D' ]"
"$JANC" --data-dir "$D" models rm nope 2>/dev/null; check "rm of an unknown id exits 1" "[ $? = 1 ]"

# $JAN_DATA_FOLDER
JAN_DATA_FOLDER="$D" "$JANC" models list --json >"$T/l3.json"
check "JAN_DATA_FOLDER is the data folder" "[ \"\$(j 'len(d[\"data\"]) > 3' <'$T/l3.json')\" = True ]"

# a staging folder left by a killed import is removed at the next start; a live one is kept
mkdir -p "$D/models/.import-999999999-1" "$D/models/.import-$$-1"
head -c 4096 /dev/zero >"$D/models/.import-999999999-1/partial.gguf"
"$JANC" --data-dir "$D" models list >/dev/null 2>&1
check "a dead import's staging folder is removed, a live one kept" \
  "[ ! -e '$D/models/.import-999999999-1' ] && [ -d '$D/models/.import-$$-1' ]"
rmdir "$D/models/.import-$$-1"

echo "e2e_models: $fails failed"
[ "$fails" = 0 ]

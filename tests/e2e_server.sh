#!/usr/bin/env bash
# e2e_server.sh — `janc serve` end to end over HTTP with curl.
#
# Starts the real server on a free loopback port (--port 0) with a temporary
# data folder holding stories260K.gguf (symlinked from ../shared) as two
# model folders, and drives every endpoint: health, the Models API
# (list/retrieve/delete/start/stop/import/create-by-download with SSE
# progress), chat completions and completions (streaming parsed chunk by
# chunk: one id, role first, finish_reason last, usage, [DONE]; and not),
# stop strings, determinism, embeddings, every error class (404, 400 bad JSON
# with line/column, 400 wrong types and ranges, 400 prompt too long with the
# numbers, 401, 405, 409 no autoload, 413, path traversal), CORS, 8
# simultaneous streams, a client that disconnects mid-stream (its slot is
# freed at once), and SIGTERM with an open stream (error event, exit 0).
# Skips (77) without ../shared, curl or python3.
set -uo pipefail
src=${JANC_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
build=${JANC_BUILD:-$src/build}
bin=${JANC_BIN:-$build/janc}
shared=${JANC_SHARED:-$src/../shared}
skip() { echo "SKIP: $*"; exit 77; }

model=$shared/testdata/models/stories260K.gguf
[ -f "$model" ] || skip "no $model (../shared is needed for the test model)"
command -v curl >/dev/null || skip "curl is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
[ -x "$bin" ] || { echo "FAIL: no program at $bin"; exit 1; }
# The interpreter itself, not a version manager's shim: each check runs it once.
py=$(python3 -c 'import sys; print(sys.executable)')
python3() { "$py" "$@"; }

tmp=$(mktemp -d /tmp/janc-e2e-server.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
passes=0 fails=0
t_start=$EPOCHREALTIME
stamp() { local us=$((${EPOCHREALTIME/./} - ${t_start/./})); printf '%3d.%02ds' $((us / 1000000)) $((us / 10000 % 100)); }
ok() { passes=$((passes + 1)); echo "ok   [$(stamp)] $1"; }
bad() { fails=$((fails + 1)); echo "FAIL $1: $2"; [ -f "$tmp/body" ] && head -c 600 "$tmp/body" && echo; }

data=$tmp/data
mkdir -p "$data/models/tiny" "$data/models/one" "$data/models/broken"
head -c 4096 /dev/urandom >"$data/models/broken/broken.gguf"
echo '{"source_url": "file:///nowhere/broken.gguf"}' >"$data/models/broken/model.json"
ln -s "$model" "$data/models/tiny/stories260K.gguf"
ln -s "$model" "$data/models/one/stories260K.gguf"
cat >"$data/models/tiny/model.json" <<EOF
{"source_url": "file://$model", "name": "Tiny stories",
 "settings": {"ctx_len": 512, "n_parallel": 4},
 "parameters": {"temperature": 0.7, "token_limit": 256, "top_k": 40, "top_p": 0.95}}
EOF
cat >"$data/models/one/model.json" <<EOF
{"source_url": "file://$model", "settings": {"ctx_len": 2048, "n_parallel": 1},
 "parameters": {"token_limit": 4096}}
EOF

# start_server NAME ARGS...: starts janc serve, sets url and spid.
start_server() {
  local name=$1; shift
  "$bin" --data-dir "$data" serve --port 0 --threads 1 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  spid=$!
  pids+=("$spid")
  url=""
  for _ in $(seq 100); do
    url=$(grep -o 'http://[^ ]*' "$tmp/$name.out" 2>/dev/null | head -1)
    [ -n "$url" ] && break
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "FAIL: the server did not start"; cat "$tmp/$name.err"; exit 1; }
}

# req METHOD PATH [curl args...]: status in $code, body in $tmp/body.
req() {
  local m=$1 p=$2; shift 2
  code=$(curl -s --path-as-is -o "$tmp/body" -w '%{http_code}' -X "$m" "$url$p" "$@")
}
post() { local p=$1 d=$2; shift 2; req POST "$p" -H 'Content-Type: application/json' -d "$d" "$@"; }
# jt EXPR: python expression over d (the JSON body) is true.
jt() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$tmp/body" "$1" 2>/dev/null; }
expect() { # NAME STATUS EXPR
  if [ "$code" = "$2" ] && jt "$3"; then ok "$1"; else bad "$1" "status $code (want $2) or check failed: $3"; fi
}
# sse_check FILE CHAT(1/0) USAGE(1/0): the stream's shape.
sse_check() {
  python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
path, chat, usage = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"
raw = open(path).read()
events = [e for e in raw.split("\n\n") if e.strip()]
assert events and events[-1] == "data: [DONE]", "no [DONE] at the end"
chunks = [json.loads(e[len("data: "):]) for e in events[:-1]]
assert all(e.startswith("data: ") for e in events), "an event is not a data line"
assert len({c["id"] for c in chunks}) == 1, "ids differ"
assert len({c["created"] for c in chunks}) == 1, "created differs"
obj = "chat.completion.chunk" if chat else "text_completion"
assert all(c["object"] == obj for c in chunks), "wrong object"
if usage:
    u = chunks.pop()
    assert u["choices"] == [] and u["usage"]["total_tokens"] == u["usage"]["prompt_tokens"] + u["usage"]["completion_tokens"], "bad usage chunk"
    assert u["usage"]["completion_tokens"] > 0
if chat:
    assert chunks[0]["choices"][0]["delta"].get("role") == "assistant", "role is not first"
fins = [c["choices"][0]["finish_reason"] for c in chunks]
assert fins[-1] in ("stop", "length") and all(f is None for f in fins[:-1]), "finish_reason not last only"
text = "".join((c["choices"][0]["delta"].get("content") or "") if chat else c["choices"][0]["text"] for c in chunks)
assert len(text) > 0, "no text"
EOF
}

t0=$(date +%s.%N)
start_server main
main_pid=$spid

# ---- basics and the Models API ---------------------------------------------
req GET /health
expect "health" 200 'd == {"status": "ok"}'
req GET /v1/models
expect "models.list shape" 200 'd["object"] == "list" and sorted(m["id"] for m in d["data"]) == ["broken", "one", "tiny"] and all(m["object"] == "model" and "created" in m and "owned_by" in m for m in d["data"])'
req GET /v1/models/tiny
expect "models.retrieve" 200 'd["id"] == "tiny" and d["object"] == "model" and d["name"] == "Tiny stories" and d["settings"]["n_parallel"] == 4'
req GET /v1/models/nope
expect "unknown model 404" 404 'd["error"]["code"] == "model_not_found" and set(d["error"]) == {"message", "type", "param", "code"}'
req GET /v1/models/%2e%2e
expect "encoded .. refused" 400 'd["error"]["code"] == "invalid_model_id"'
req DELETE /v1/models/..%2F..%2Fdata
expect "encoded ../ refused on delete" 400 '"error" in d'
req GET /v1/models/../../etc/passwd
expect "raw ../ is no route" 404 '"error" in d'
[ -d "$data/models/tiny" ] && ok "data folder intact" || bad "data folder intact" "tiny is gone"
req GET /v1/nothing
expect "unknown route 404 JSON" 404 'd["error"]["type"] == "invalid_request_error"'
req DELETE /v1/chat/completions
expect "wrong method 405" 405 'd["error"]["code"] == "method_not_allowed"'

# ---- chat and completions --------------------------------------------------
chat='{"model":"tiny","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":12,"temperature":0}'
post /v1/chat/completions "$chat"
expect "chat non-streaming" 200 'd["object"] == "chat.completion" and d["id"].startswith("chatcmpl-") and d["choices"][0]["message"]["role"] == "assistant" and len(d["choices"][0]["message"]["content"]) > 0 and d["choices"][0]["finish_reason"] == "length" and d["usage"]["completion_tokens"] == 12 and d["usage"]["total_tokens"] == d["usage"]["prompt_tokens"] + 12'
first=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["choices"][0]["message"]["content"])' "$tmp/body")
post /v1/chat/completions "$chat"
expect "temperature 0 is deterministic" 200 'd["choices"][0]["message"]["content"] == '"$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$first")"
curl -sN "$url/v1/chat/completions" -d '{"model":"tiny","messages":[{"role":"user","content":"Hello"}],"max_tokens":16,"stream":true,"stream_options":{"include_usage":true}}' >"$tmp/s_chat"
if sse_check "$tmp/s_chat" 1 1; then ok "chat streaming chunks"; else bad "chat streaming chunks" "$(head -c 400 "$tmp/s_chat")"; fi
post /v1/completions '{"model":"tiny","prompt":"Once upon a time","max_tokens":10,"seed":7,"temperature":1}'
expect "completions non-streaming" 200 'd["object"] == "text_completion" and d["id"].startswith("cmpl-") and len(d["choices"][0]["text"]) > 0 and d["usage"]["completion_tokens"] == 10'
a=$(cat "$tmp/body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])')
post /v1/completions '{"model":"tiny","prompt":"Once upon a time","max_tokens":10,"seed":7,"temperature":1}'
b=$(cat "$tmp/body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])')
[ "$a" = "$b" ] && ok "same seed, same text" || bad "same seed, same text" "'$a' vs '$b'"
curl -sN "$url/v1/completions" -d '{"model":"tiny","prompt":["Once upon a time"],"max_tokens":8,"stream":true}' >"$tmp/s_cmpl"
if sse_check "$tmp/s_cmpl" 0 0; then ok "completions streaming"; else bad "completions streaming" "$(head -c 400 "$tmp/s_cmpl")"; fi
post /v1/completions '{"model":"tiny","prompt":"Once upon a time","max_tokens":200,"temperature":0,"stop":["."]}'
expect "stop string" 200 '"." not in d["choices"][0]["text"] and d["choices"][0]["finish_reason"] == "stop"'
post /v1/completions '{"model":"tiny","prompt":[1,450,300],"max_tokens":3}'
expect "token prompt" 200 'd["usage"]["prompt_tokens"] == 3'
long=$(python3 -c 'print(",".join(["400"] * 600))')
post /v1/completions "{\"model\":\"tiny\",\"prompt\":[$long],\"max_tokens\":3}"
expect "prompt too long: 400 with the numbers" 400 '"600" in d["error"]["message"] and "512" in d["error"]["message"] and d["error"]["code"] == "context_length_exceeded"'
post /v1/completions '{"model":"tiny","prompt":[999999]}'
expect "token out of vocabulary" 400 '"vocabulary" in d["error"]["message"]'

# ---- validation errors -------------------------------------------------------
req POST /v1/chat/completions -d $'{"model": "tiny",\n "messages": [}'
expect "bad JSON: line and column" 400 '"line 2" in d["error"]["message"] and "column" in d["error"]["message"]'
post /v1/chat/completions '{"model":"tiny","messages":[{"role":"user","content":"x"}],"temperature":"hot"}'
expect "wrong type names the parameter" 400 'd["error"]["param"] == "temperature" and "number" in d["error"]["message"]'
post /v1/chat/completions '{"model":"tiny","messages":[{"role":"user","content":"x"}],"max_tokens":-1}'
expect "negative max_tokens" 400 'd["error"]["param"] == "max_tokens"'
post /v1/chat/completions '{"model":"tiny","messages":[{"role":"user","content":"x"}],"temperature":-0.5}'
expect "temperature < 0" 400 'd["error"]["param"] == "temperature"'
post /v1/chat/completions '{"model":"tiny","messages":[{"role":"user","content":"x"}],"n":2}'
expect "n = 2 refused" 400 'd["error"]["param"] == "n"'
post /v1/chat/completions '{"model":"nope","messages":[{"role":"user","content":"x"}]}'
expect "chat with unknown model" 404 'd["error"]["code"] == "model_not_found"'
post /v1/chat/completions '{"model":"broken","messages":[{"role":"user","content":"x"}]}'
expect "model that fails to load: 500 with the reason" 500 'd["error"]["code"] == "model_load_failed" and "broken.gguf" in d["error"]["message"]'
req GET /v1/models/broken
expect "failed model shows state error" 200 'd["state"] == "error"'
post /v1/chat/completions '{"model":"tiny","messages":[{"role":"user","content":"x"}],"max_tokens":2,"some_future_field":{"a":1}}'
expect "unknown fields ignored" 200 'd["object"] == "chat.completion"'
req POST /v1/chat/completions -d ''
expect "empty body" 400 '"error" in d'
head -c 9000000 /dev/zero | tr '\0' 'a' >"$tmp/big"
req POST /v1/chat/completions -H 'Content-Type: application/json' --data-binary @"$tmp/big"
expect "body over 8 MiB: 413" 413 'd["error"]["code"] == "request_too_large"'

# ---- embeddings ----------------------------------------------------------------
post /v1/embeddings '{"model":"tiny","input":"hello world"}'
expect "embeddings (string)" 200 'd["object"] == "list" and d["data"][0]["object"] == "embedding" and d["data"][0]["index"] == 0 and len(d["data"][0]["embedding"]) > 0 and abs(sum(x * x for x in d["data"][0]["embedding"]) - 1) < 1e-3 and d["usage"]["prompt_tokens"] > 0'
post /v1/embeddings '{"model":"tiny","input":["a cat","a dog",[1,450]]}'
expect "embeddings (list)" 200 '[e["index"] for e in d["data"]] == [0, 1, 2] and d["model"] == "tiny"'
post /v1/embeddings '{"model":"tiny","input":"hello","encoding_format":"base64"}'
expect "embeddings base64" 200 'isinstance(d["data"][0]["embedding"], str) and len(__import__("base64").b64decode(d["data"][0]["embedding"])) % 4 == 0'

# ---- start / stop / import / download / delete -------------------------------
req GET /v1/models/tiny
expect "state running after use" 200 'd["state"] == "running"'
req POST /v1/models/tiny/stop
expect "stop" 200 'd["id"] == "tiny" and d["state"] != "running"'
req PUT /v1/models/tiny/start -d '{"settings":{"ctx_len":256}}'
expect "start with ctx_len override" 200 'd["state"] == "running" and d["settings"]["ctx_len"] == 256'
post /v1/completions "{\"model\":\"tiny\",\"prompt\":[$(python3 -c 'print(",".join(["400"] * 300))')],\"max_tokens\":3}"
expect "override took effect" 400 '"256" in d["error"]["message"]'
req POST /v1/models/tiny/start -d '{"settings":{"ctx_len":"abc"}}'
expect "bad override" 400 'd["error"]["param"] == "settings"'
req POST /v1/models/tiny/start -d '{"settings":{"ctx_len":512}}'
expect "restart with ctx_len 512" 200 'd["state"] == "running"'
post /v1/models/import "{\"path\":\"$model\",\"id\":\"imp\",\"mode\":\"link\"}"
expect "import (link)" 200 'd["id"] == "imp" and d["object"] == "model"'
post /v1/models/import '{"path":"relative/x.gguf"}'
expect "import: relative path refused" 400 'd["error"]["param"] == "path"'
post /v1/models/import "{\"path\":\"$tmp/none.gguf\"}"
expect "import: missing file" 404 '"error" in d'
post /v1/completions '{"model":"imp","prompt":"Once","max_tokens":2}'
expect "imported model runs" 200 'd["usage"]["completion_tokens"] == 2'
# editing settings and parameters: saved to model.json (a running model
# shows the settings it runs with until its next start)
req PATCH /v1/models/imp -H 'Content-Type: application/json' -d '{"settings":{"ctx_len":256},"parameters":{"temperature":0.25},"description":"edited"}'
expect "edit settings (PATCH)" 200 'd["parameters"]["temperature"] == 0.25 and d["description"] == "edited"'
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); sys.exit(0 if m["settings"]["ctx_len"] == 256 and m["parameters"]["temperature"] == 0.25 else 1)' "$data/models/imp/model.json" \
  && ok "edit is in model.json" || bad "edit is in model.json" "$(head -c 300 "$data/models/imp/model.json")"
post /v1/models/imp '{"id":"other"}'
expect "edit: id cannot change" 400 'd["error"]["param"] == "id"'
post /v1/models/imp '{"parameters":{"temperature":[1]}}'
expect "edit: nested value refused" 400 'd["error"]["param"] == "parameters"'
post /v1/models/nope '{"name":"x"}'
expect "edit: unknown model" 404 'd["error"]["code"] == "model_not_found"'
req DELETE /v1/models/imp
expect "models.del" 200 'd == {"id": "imp", "object": "model", "deleted": True}'
req GET /v1/models/imp
expect "deleted model is gone" 404 'd["error"]["code"] == "model_not_found"'
[ -f "$model" ] && ok "delete kept the link target" || bad "delete kept the link target" "the shared model is gone"
post /v1/models "{\"source_url\":\"file://$model\",\"id\":\"dl\"}"
expect "create by download" 200 'd["id"] == "dl"'
curl -sN --max-time 20 "$url/v1/models/dl/download" >"$tmp/s_dl"
if grep -q '"state":"done"' "$tmp/s_dl"; then ok "download progress (SSE) until done"; else bad "download progress" "$(head -c 300 "$tmp/s_dl")"; fi
req GET /v1/models/dl
expect "downloaded model ready" 200 'd["state"] == "ready" and ("download" not in d or d["download"]["state"] == "done")'

# ---- concurrency ---------------------------------------------------------------
cpids=()
for i in 1 2 3 4 5 6 7 8; do
  curl -sN --max-time 30 "$url/v1/chat/completions" -d "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Story $i\"}],\"max_tokens\":40,\"stream\":true}" >"$tmp/c$i" &
  cpids+=($!)
done
for p in "${cpids[@]}"; do wait "$p"; done
good=0
for i in 1 2 3 4 5 6 7 8; do sse_check "$tmp/c$i" 1 0 2>/dev/null && good=$((good + 1)); done
[ "$good" = 8 ] && ok "8 simultaneous streams complete" || bad "8 simultaneous streams" "$good of 8 complete"

# A client that hangs up mid-stream: model "one" has a single slot; the long
# generation must be cancelled and the slot free for the next request at once.
python3 - "$url" <<'EOF' || bad "disconnect client" "could not stream"
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port))
body = b'{"model":"one","prompt":"Once","max_tokens":2000,"ignore_eos":true,"stream":true}'
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
got = b""
while got.count(b"data: ") < 3:
    got += s.recv(4096)
s.close()
EOF
t_dis=$(date +%s.%N)
req POST /v1/completions -d '{"model":"one","prompt":"Once","max_tokens":4}' --max-time 10
t_next=$(python3 -c "import sys; print(round($(date +%s.%N) - $t_dis, 2))")
expect "next request served after a disconnect (${t_next}s)" 200 'd["usage"]["completion_tokens"] == 4'
if grep -q "request cancelled by its client" "$tmp/main.err"; then ok "the disconnected generation was cancelled"; else bad "cancel" "no cancellation in the log"; fi

# ---- SIGTERM with an open stream -------------------------------------------------
curl -sN --max-time 20 "$url/v1/completions" -d '{"model":"one","prompt":"Once","max_tokens":2000,"ignore_eos":true,"stream":true}' >"$tmp/s_term" &
cpid=$!
for _ in $(seq 100); do [ -s "$tmp/s_term" ] && break; sleep 0.05; done
ts=$(date +%s.%N)
kill -TERM "$main_pid"
wait "$main_pid"; rc=$?
dt=$(python3 -c "print(round($(date +%s.%N) - $ts, 2))")
wait "$cpid"
if [ "$rc" = 0 ] && python3 -c "import sys; sys.exit(0 if $dt < 5 else 1)"; then ok "SIGTERM: exit 0 in ${dt}s"; else bad "SIGTERM" "rc $rc after ${dt}s"; fi
if grep -q "shutting down" "$tmp/s_term"; then ok "open stream ended with an error event"; else bad "stream at shutdown" "$(tail -c 300 "$tmp/s_term")"; fi

# ---- a second server: API key, CORS, no autoload ---------------------------------
start_server keyed --api-key sekret --cors http://example.com --no-autoload
req GET /v1/models
expect "401 without a key" 401 'd["error"]["code"] == "invalid_api_key"'
req GET /v1/models -H 'Authorization: Bearer wrong'
expect "401 with a wrong key" 401 '"error" in d'
req GET /v1/models -H 'Authorization: Bearer sekret'
expect "200 with the key" 200 'd["object"] == "list"'
req GET /health
expect "/health needs no key" 200 'd["status"] == "ok"'
hdrs=$(curl -s -o /dev/null -D - -X OPTIONS "$url/v1/chat/completions" -H 'Origin: http://example.com' -H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: authorization, content-type')
if grep -qi '^Access-Control-Allow-Origin: http://example.com' <<<"$hdrs" && grep -q '^HTTP/1.1 204' <<<"$hdrs"; then ok "CORS preflight"; else bad "CORS preflight" "$hdrs"; fi
post /v1/chat/completions '{"model":"tiny","messages":[{"role":"user","content":"x"}],"max_tokens":2}' -H 'Authorization: Bearer sekret'
expect "no autoload: 409" 409 'd["error"]["code"] == "model_not_running"'
req POST /v1/models/tiny/start -H 'Authorization: Bearer sekret'
expect "explicit start" 200 'd["state"] == "running"'
post /v1/chat/completions '{"model":"tiny","messages":[{"role":"user","content":"x"}],"max_tokens":2}' -H 'Authorization: Bearer sekret'
expect "chat after start" 200 'd["usage"]["completion_tokens"] >= 1'
kill -TERM "$spid"; wait "$spid"; rc=$?
[ "$rc" = 0 ] && ok "second server exits 0" || bad "second server exit" "rc $rc"

# A sanitizer build reports here; a release build never writes these words.
if grep -l "runtime error\|AddressSanitizer\|LeakSanitizer" "$tmp"/*.err 2>/dev/null; then
  bad "sanitizers" "$(grep -h -A5 "runtime error\|Sanitizer" "$tmp"/*.err | head -20)"
else
  ok "no sanitizer reports in the server logs"
fi
echo "e2e_server: $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]

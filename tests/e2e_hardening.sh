#!/usr/bin/env bash
# e2e_hardening.sh — hostile requests against `janc serve` (issue 9).
#
# Starts the real server on a free loopback port with a temporary data folder
# (stories260K from ../shared as model "tiny", plus folders made to tempt it
# outside: a symlinked model folder, a model.json that is a symlink, a
# model.json whose assets climb out with "..", a model file symlinked from
# outside) and proves, check by check:
#  - ids with "..", "%2e%2e", "%2F", absolute paths, control characters,
#    backslashes, a leading "." or 129 bytes are refused (400
#    invalid_model_id) on every route of the routes table that takes an id,
#    and a raw "/../" path matches no route (404); model names in bodies
#    never reach outside (404);
#  - the import API refuses bad ids and relative paths, and refuses
#    /etc/passwd, a FIFO, a device and a folder quickly (4xx), copying nothing;
#  - symlinks out of the data folder: deleting a symlinked model folder, a
#    model with a symlinked file, or a model whose model.json names
#    "../../outside/x.gguf" removes nothing outside; a model.json that is a
#    symlink is not read;
#  - a 100 KB header, 2000 headers, a garbage request line and a 100 KB URL
#    get a 4xx, bodies over 8 MiB a 413 error object (by Content-Length and
#    chunked), 100,000 nested "[" and "{" a 400 error object;
#  - bodies that are not objects ([], "x", 1, null, empty) on every POST
#    route that reads a body, invalid UTF-8 and bad escapes, wrong types and
#    out-of-range values of every sampling field: 400 with an OpenAI error
#    object {"error":{"message","type","param","code"}} naming the param;
#  - janc's own limits answer with error objects: a 100 KB header and 2000
#    headers 431, a 100 KB URL 414, an unknown Transfer-Encoding 501; what
#    libmicrohttpd still answers itself (docs/security.md) is a 4xx or 505;
#  - a chat message without content, and an import id "%2e%2e": 400 naming
#    the param; a model.json with metadata nested 600 deep is listed and
#    shown; an edit nesting metadata 41 deep is 400;
#  - deadlines (JANC_HEADER_TIMEOUT=2, JANC_BODY_TIMEOUT=2 here): 32 clients
#    sending a header byte a second are all closed, one sending its body a
#    byte a second is closed, others are served meanwhile, and an SSE stream
#    (a download's progress, about 4 s) outlives the deadlines; a malformed
#    $JANC_HEADER_TIMEOUT stops serve with one line;
#  - with --api-key every route of the routes table (read from
#    src/server/api.c) answers 401 without a key, with a wrong key, with
#    another scheme, and only /health and the web page are exempt;
#    JANC_NO_DOWNLOADS=1 refuses downloads (403);
#  - CORS: no Access-Control-Allow-Origin without --cors, no preflight
#    granted; with --cors the configured origin, never the request's;
#  - after all of it the server still answers /health and nothing outside the
#    data folder changed.
# Skips (77) without ../shared, curl or python3. About 20 s.
JANC_TEST_NAME=e2e_hardening
. "$(dirname "$0")/load/lib.sh"
[ -f "$model" ] || skip "no $model (../shared is needed for the test model)"

data=$tmp/data
outside=$tmp/outside
mkdir -p "$data/models" "$outside/victim"
tiny_model "$data" tiny 256 2
# Files outside the data folder that nothing may touch.
cp "$model" "$outside/victim/v.gguf"
echo '{"source_url": "file:///victim/v.gguf", "name": "SECRET-NAME"}' >"$outside/victim/model.json"
echo "secret" >"$outside/secret.txt"
# A model folder that is a symlink to a folder outside.
ln -s "$outside/victim" "$data/models/outlink"
# A model folder whose model.json is a symlink to a file outside.
mkdir -p "$data/models/mjlink"
ln -s "$outside/victim/model.json" "$data/models/mjlink/model.json"
# A model.json whose assets climb out of its folder (no file in the folder).
mkdir -p "$data/models/climb"
printf '{"source_url": "file://%s/victim/v.gguf", "assets": ["../../../outside/victim/v.gguf"]}\n' "$outside" \
  >"$data/models/climb/model.json"
# A model whose file is a symlink to a file outside (as import --link makes).
mkdir -p "$data/models/filelink"
ln -s "$outside/victim/v.gguf" "$data/models/filelink/v.gguf"
outside_sum() { (cd "$outside" && find . -printf '%p %s %y\n' | sort && cat victim/v.gguf secret.txt | sha256sum); }
outside_sum >"$tmp/outside.before"
# A model whose metadata nests 600 deep.
mkdir -p "$data/models/deepmeta"
python3 -c 'print("{\"source_url\": \"file:///nonexistent/deep.gguf\", \"metadata\": {\"a\": " + "[" * 600 + "]" * 600 + "}}")' \
  >"$data/models/deepmeta/model.json"

JANC_HEADER_TIMEOUT=2 JANC_BODY_TIMEOUT=2 start_server main "$data"
req GET /health
expect "health" 200 'd == {"status": "ok"}'

# ---- the routes table ------------------------------------------------------------
routes=$(python3 - "$src/src/server/api.c" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
table = text[text.index("api_routes[]"):]
table = table[:table.index("};")]
for m, p in re.findall(r'\{"(GET|POST|PUT|DELETE|PATCH)",\s*"([^"]+)",\s*\w+\}', table):
    print(m, p)
EOF
)
n_routes=$(wc -l <<<"$routes")
check "routes table read from src/server/api.c ($n_routes routes)" '[ "$n_routes" -ge 10 ] && grep -q "^POST /v1/chat/completions$" <<<"$routes"'
id_routes=$(grep '{id}' <<<"$routes")

# ---- ids and paths -----------------------------------------------------------------
run_probe "$routes" "$outside" <<'PY'
routes = [l.split() for l in argv[0].splitlines()]
bad_ids = ["..", "%2e%2e", "%2E%2e", "..%2F..%2Fetc", "%2Fetc%2Fpasswd", "%2F.hidden", ".hidden", "%00", "%01x",
           "%5C..%5Cx", "a%2Fb", "%2e%2e%2f%2e%2e%2fetc", "x" * 129]
n = bad = 0
for m, path in routes:
    if "{id}" not in path:
        continue
    for i in bad_ids:
        n += 1
        st, data = p.request(m, path.replace("{id}", i), "{}")
        d = json.loads(data) if data.startswith(b"{") else None
        # %00 is refused as a bad escape before the id check; both are 400 error objects
        if st != 400 or not is_err_obj(d) or d["error"]["code"] not in ("invalid_model_id", "invalid_path"):
            bad += 1
            print("  %s %s -> %d %r" % (m, path.replace("{id}", i), st, data[:120]))
(p.ok if bad == 0 else lambda x: p.fail(x, "%d wrong" % bad))("%d hostile ids on every {id} route: 400 error object" % n)
for path in ["/v1/models/../../etc/passwd", "/v1/models/tiny/../../../etc/passwd", "/v1/../../models/tiny"]:
    p.expect("raw path %s matches no route: 404" % path, "GET", path, status=404)
p.expect("bad percent-escape in a path: 400", "GET", "/v1/models/%zz", status=400)
for name in ["..", "../tiny", "/etc/passwd", "%2e%2e", argv[1] + "/victim", "tiny/../tiny", "./tiny"]:
    p.expect("chat with model %r: 404" % name, "POST", "/v1/chat/completions",
             json.dumps({"model": name, "messages": [{"role": "user", "content": "x"}], "max_tokens": 2}),
             404, lambda d: d["error"]["code"] == "model_not_found")
p.expect("embeddings with model '../tiny': 404", "POST", "/v1/embeddings", '{"model":"../tiny","input":"x"}', 404)
PY

# ---- the import API ------------------------------------------------------------------
mkfifo "$tmp/fifo.gguf"
run_probe "$model" "$tmp" "$outside" <<'PY'
import time
model, tmp, outside = argv
for i in ["../evil", "/tmp/evil", "..", ".hidden", "a/b", "a\\b", "", "y" * 129, "%2e%2e", "a\nb"]:
    p.expect("import with id %r: 400" % i[:20], "POST", "/v1/models/import",
             json.dumps({"path": model, "id": i, "mode": "link"}), 400)
p.expect("import with id '%2e%2e': 400 naming id, saying why", "POST", "/v1/models/import",
         json.dumps({"path": model, "id": "%2e%2e", "mode": "link"}), 400,
         lambda d: d["error"]["param"] == "id" and d["error"]["code"] == "invalid_model_id"
         and "'%2e%2e'" in d["error"]["message"] and "A-Z a-z 0-9" in d["error"]["message"])
p.expect("import of a relative path: 400 naming path", "POST", "/v1/models/import",
         '{"path":"../shared/testdata/models/stories260K.gguf"}', 400, lambda d: d["error"]["param"] == "path")
for f in ["/etc/passwd", tmp + "/fifo.gguf", "/dev/zero", outside + "/victim", "/proc/self/mem", "/"]:
    t = time.time()
    p.expect("import of %s refused at once" % f, "POST", "/v1/models/import", json.dumps({"path": f, "id": "hostile"}),
             400, lambda d: time.time() - t < 5)
p.expect("import with mode 'bogus': 400 naming mode", "POST", "/v1/models/import",
         json.dumps({"path": model, "mode": "bogus"}), 400, lambda d: d["error"]["param"] == "mode")
p.expect("download from ftp://: 400", "POST", "/v1/models", '{"source_url":"ftp://127.0.0.1/x.gguf"}', 400)
p.expect("download with id '../e': 400 invalid_model_id", "POST", "/v1/models",
         '{"source_url":"http://127.0.0.1:9/x.gguf","id":"../e"}', 400, lambda d: d["error"]["code"] == "invalid_model_id")
PY
left=$(ls -A "$data/models" | grep -v -x -e tiny -e outlink -e mjlink -e climb -e filelink -e deepmeta)
check "refused imports and downloads left nothing in models/" '[ -z "$left" ]' "$left"

# ---- symlinks out of the data folder -----------------------------------------------------
req GET /v1/models/mjlink
if [ "$code" = 200 ] && ! grep -q SECRET-NAME "$tmp/body"; then ok "a model.json that is a symlink is not read"
else bad "model.json symlink" "status $code"; fi
req GET /v1/models/climb
expect "assets with '..' resolve inside the folder: no file, state null" 200 'd["state"] is None'
post /v1/completions '{"model":"climb","prompt":"x","max_tokens":2}'
check "a model whose assets climb out does not load the outside file" '[ "$code" != 200 ]' "status $code"
for id in outlink filelink climb mjlink; do
  req DELETE "/v1/models/$id"
  expect "delete $id" 200 'd["deleted"] == True'
done
outside_sum >"$tmp/outside.after"
check "deleting symlinked and climbing models changed nothing outside the data folder" \
  'cmp -s "$tmp/outside.before" "$tmp/outside.after"' "$(diff "$tmp/outside.before" "$tmp/outside.after" | head -5)"

# ---- oversized and malformed requests ------------------------------------------------------
big_hdr=$(head -c 100000 /dev/zero | tr '\0' 'h')
code=$(curl -s --max-time 10 -o "$tmp/body" -w '%{http_code}' "$url/v1/models" -H "X-Big: $big_hdr")
expect_err "a 100 KB header: 431 error object" 431 'd["error"]["code"] == "header_too_large"'
hdrs=()
for i in $(seq 2000); do hdrs+=(-H "X-H$i: vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"); done
code=$(curl -s --max-time 10 -o "$tmp/body" -w '%{http_code}' "$url/v1/models" "${hdrs[@]}")
expect_err "2000 headers: 431 error object" 431 'd["error"]["code"] == "header_too_large"'
code=$(curl -s --max-time 10 -o "$tmp/body" -w '%{http_code}' "$url/$(head -c 100000 /dev/zero | tr '\0' 'u')")
expect_err "a 100 KB URL: 414 error object" 414 'd["error"]["code"] == "uri_too_long"'
code=$(curl -s --max-time 10 -o "$tmp/body" -w '%{http_code}' "$url/v1/completions" -H 'Transfer-Encoding: gzip' \
       -H 'Content-Type: application/json' --data-binary '{}')
expect_err "an unknown Transfer-Encoding: 501 error object" 501 'd["error"]["code"] == "unsupported_transfer_encoding"'
raw=$(python3 - "$url" <<'EOF'
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
out = []
for req in [b"GARBAGE\r\n\r\n", b"GET /health\r\n\r\n", b"GET /health HTTP/9.9\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad header line\r\n\r\n",
            b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n{}",
            b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999999999999999\r\n\r\n{}",
            b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"]:
    s = socket.create_connection((u.hostname, u.port), timeout=5)
    s.sendall(req)
    try:
        got = s.recv(200)
    except socket.timeout:
        got = b"TIMEOUT"
    s.close()
    out.append(got.split(b"\r\n")[0].decode("latin-1") or "closed")
print("|".join(out))
EOF
)
# each is answered with a 4xx (505 for an unknown HTTP version) or closed, at once
check "garbage request lines, bad Content-Length, bad chunks: 4xx/505 or a close ($raw)" \
  '! grep -q -e TIMEOUT -e " 2[0-9][0-9] " -e " 50[0-4] " <<<"$raw"'
health_ok && ok "alive after malformed requests" || bad "alive after malformed requests" "no /health"
head -c 9000000 /dev/zero | tr '\0' 'a' >"$tmp/big"
req POST /v1/chat/completions -H 'Content-Type: application/json' --data-binary @"$tmp/big"
expect_err "a 9 MB body: 413 (by Content-Length)" 413 'd["error"]["code"] == "request_too_large"'
req POST /v1/chat/completions -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big"
expect_err "a 9 MB chunked body: 413" 413 'd["error"]["code"] == "request_too_large"'
python3 -c 'print("[" * 100000)' >"$tmp/deep1"
python3 -c 'print("{\"a\":" * 100000)' >"$tmp/deep2"
python3 -c 'print("{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"x\":" + "[" * 100000 + "]" * 100000 + "}")' >"$tmp/deep3"
for f in deep1 deep2 deep3; do
  req POST /v1/chat/completions -H 'Content-Type: application/json' --data-binary @"$tmp/$f"
  expect_err "100,000 nested brackets ($f): 400" 400 'd["error"]["code"] == "invalid_json"'
done

# ---- bodies that are not objects, on every POST route that reads one -----------------------
run_probe "$routes" <<'PY'
routes = [l.split() for l in argv[0].splitlines()]
n = bad = 0
for m, path in routes:
    if m not in ("POST", "PUT") or path.endswith("/download") or path.endswith("/stop"):
        continue  # these read no body
    path = path.replace("{id}", "tiny")
    bodies = ["[]", '"x"', "1", "null", "true", '{"a":', '{"a":1}}', "{'a':1}", "\xef\xbb\xbf{}"]
    if not path.endswith("/start"):  # start takes an empty body
        bodies += ["", "  \r\n "]
    for b in bodies:
        n += 1
        st, data = p.request(m, path, b)
        d = json.loads(data) if data.startswith(b"{") else None
        if st != 400 or not is_err_obj(d):
            bad += 1
            print("  %s %s %r -> %d %r" % (m, path, b, st, data[:120]))
(p.ok if bad == 0 else lambda x: p.fail(x, "%d wrong" % bad))("%d bodies that are not JSON objects: 400 error objects" % n)

# invalid UTF-8 and escapes (bytes, not text)
cases = [("bytes ff fe in a string", b'{"model":"tiny","messages":[{"role":"user","content":"\xff\xfe x"}]}'),
         ("an overlong encoding in the model name", b'{"model":"ti\xc0\xafny","messages":[{"role":"user","content":"x"}]}'),
         ("a UTF-8-encoded surrogate", b'{"model":"tiny","messages":[{"role":"user","content":"\xed\xa0\x80"}]}'),
         ("a lone \\ud800 escape", b'{"model":"tiny","messages":[{"role":"user","content":"\\ud800"}]}'),
         ("a \\u0000 escape", b'{"model":"tiny","messages":[{"role":"user","content":"a\\u0000b"}]}'),
         ("byte ff in a key", b'{"model":"tiny","m\xffessages":[]}')]
for what, b in cases:
    p.expect("invalid UTF-8 or escape (%s): 400" % what, "POST", "/v1/chat/completions", b, 400,
             lambda d: d["error"]["code"] == "invalid_json")
p.expect("a prompt cut inside a UTF-8 character: 400", "POST", "/v1/completions", b'{"model":"tiny","prompt":"\xe2\x82"}', 400)

# wrong types and out-of-range values: each 400 naming the field
def body(base, k, v):
    b = dict(base)
    b[k] = v
    return json.dumps(b)
chat = {"model": "tiny", "messages": [{"role": "user", "content": "x"}]}
bad_chat = [("max_tokens", -1), ("max_tokens", 0), ("max_tokens", 99999999999), ("max_tokens", 1e12), ("max_tokens", "5"),
            ("max_completion_tokens", -2), ("temperature", "hot"), ("temperature", -0.5), ("temperature", 101),
            ("top_p", 7), ("top_p", -1), ("top_k", -1), ("top_k", 1.5), ("min_p", 2), ("n", 2), ("n", 0),
            ("stop", 5), ("stop", [1]), ("stop", {"a": 1}), ("stop", ["s"] * 17), ("stop", "s" * 257),
            ("seed", "x"), ("seed", 1.5), ("stream", "yes"), ("stream_options", "x"), ("presence_penalty", 3),
            ("frequency_penalty", -3), ("repeat_penalty", 11), ("tools", "x"), ("messages", "x"), ("messages", []),
            ("messages", [5]), ("messages", [{"role": 5, "content": "x"}]), ("messages", [{"role": "user", "content": 5}]),
            ("model", 5), ("model", None)]
for k, v in bad_chat:
    p.expect("chat %s=%s: 400 naming %s" % (k, json.dumps(v)[:24], k), "POST", "/v1/chat/completions",
             body(chat, k, v), 400, lambda d, k=k: d["error"]["param"] == k)
for msgs in ([{"role": "user"}], [{"role": "user", "content": "x"}, {"role": "assistant", "content": None}],
             [{"role": "tool", "tool_calls": [{"id": "1"}]}]):
    p.expect("chat message without content (%s): 400 naming messages" % msgs[-1]["role"], "POST",
             "/v1/chat/completions", json.dumps({"model": "tiny", "messages": msgs}), 400,
             lambda d, n=len(msgs) - 1: d["error"]["param"] == "messages" and d["error"]["code"] == "missing_parameter"
             and "messages[%d].content" % n in d["error"]["message"])
p.expect("an assistant message with tool_calls needs no content", "POST", "/v1/chat/completions",
         json.dumps({"model": "tiny", "max_tokens": 2, "messages": [
             {"role": "user", "content": "x"},
             {"role": "assistant", "content": None,
              "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
             {"role": "tool", "tool_call_id": "c", "content": "1"}]}), 200)
cmpl = {"model": "tiny", "prompt": "x"}
for k, v in [("prompt", 5), ("prompt", []), ("prompt", [[1], [2]]), ("prompt", ["a", "b"]), ("prompt", [1.5]),
             ("prompt", [-1]), ("prompt", [2147483648]), ("prompt", {"a": 1}), ("max_tokens", -1), ("top_p", 7)]:
    p.expect("completions %s=%s: 400 naming %s" % (k, json.dumps(v)[:24], k), "POST", "/v1/completions",
             body(cmpl, k, v), 400, lambda d, k=k: d["error"]["param"] == k)
p.expect("completions with a token outside the vocabulary: 400", "POST", "/v1/completions", body(cmpl, "prompt", [999999]), 400)
emb = {"model": "tiny", "input": "x"}
for k, v in [("input", 5), ("input", []), ("input", [[]]), ("input", {"a": 1}), ("input", [None]), ("input", ["a"] * 2049),
             ("encoding_format", "hex")]:
    p.expect("embeddings %s=%s: 400 naming %s" % (k, json.dumps(v)[:20], k), "POST", "/v1/embeddings",
             body(emb, k, v), 400, lambda d, k=k: d["error"]["param"] == k)
for s in [5, {"n_parallel": -1}, {"ctx_len": 0}, {"n_parallel": 100000}, {"ctx_len": "abc"}, {"ctx_len": 1e300}]:
    p.expect("start with settings %s: 400 naming settings" % json.dumps(s), "POST", "/v1/models/tiny/start",
             json.dumps({"settings": s}), 400, lambda d: d["error"]["param"] == "settings")
# A request that asks for a huge generation is fine: the context bounds it
# (the last sampled token needs no room, so prompt + completion = ctx + 1).
p.expect("max_tokens 2^31-1 ends at the full context (length)", "POST", "/v1/completions",
         '{"model":"tiny","prompt":"Once","max_tokens":2147483647,"ignore_eos":true}', 200,
         lambda d: d["choices"][0]["finish_reason"] == "length" and d["usage"]["total_tokens"] <= 257)
PY
# A model.json whose metadata nests 600 deep (jansson reads up to 2048): every reply that carries it can be
# written (the reply writer once stopped at 512, so the model list was a 500); edits may nest 32 deep.
req GET /v1/models
expect "the model list answers with a model whose metadata nests 600 deep" 200 'any(m["id"] == "deepmeta" for m in d["data"])'
req GET /v1/models/deepmeta
expect "so does that model" 200 'd["id"] == "deepmeta"'
deep=$(python3 -c 'print("{\"metadata\":{\"a\":" + "[" * 40 + "]" * 40 + "}}")')
req PATCH /v1/models/tiny -H 'Content-Type: application/json' --data-binary "$deep"
expect_err "an edit with metadata nested 41 deep: 400 naming metadata" 400 'd["error"]["param"] == "metadata"'
health_ok && ok "alive after the hostile bodies" || bad "alive after the hostile bodies" "no /health"

# ---- CORS and cross-origin requests (no --cors) -----------------------------------------------
hdrs=$(curl -s -o /dev/null -D - "$url/v1/models" -H 'Origin: http://evil.example')
check "without --cors no Access-Control-Allow-Origin is sent, whatever the Origin" '! grep -qi "^access-control-allow-origin" <<<"$hdrs"' "$hdrs"
code=$(curl -s -o /dev/null -w '%{http_code}' -X OPTIONS "$url/v1/models/tiny" -H 'Origin: http://evil.example' \
       -H 'Access-Control-Request-Method: DELETE')
check "without --cors a preflight is not granted ($code)" '[ "$code" != 204 ] && [ "${code:0:1}" != 2 ]'
# A cross-origin "simple" request (text/plain, no preflight), which any web page can make the
# browser send, is refused; so is a Host that is not loopback (DNS rebinding); the page's own
# origin is served.
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/models/import" -H 'Content-Type: text/plain' \
       -H 'Origin: http://evil.example' -d "{\"path\":\"$model\",\"id\":\"csrf\",\"mode\":\"link\"}")
check "a cross-origin request from another Origin is refused (403, got $code) and does nothing" \
  '[ "$code" = 403 ] && [ ! -e "$data/models/csrf" ]'
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/models" -H 'Host: evil.example')
check "a request naming another Host on a loopback bind is refused (403, got $code)" '[ "$code" = 403 ]'
hostport=${url#http://}
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/models" -H "Origin: http://$hostport")
check "the page's own origin is served (200, got $code)" '[ "$code" = 200 ]'
[ -d "$data/models/csrf" ] && rm -rf "$data/models/csrf"
# file:// downloads of a device or a FIFO are refused at once (a device would fill the disk,
# a FIFO would block the download thread), as import refuses them.
mkfifo "$tmp/dl.fifo"
code=$(curl -s --max-time 5 -o "$tmp/body" -w '%{http_code}' "$url/v1/models" -H 'Content-Type: application/json' \
       -d '{"source_url":"file:///dev/zero","id":"zero"}')
check "a download of file:///dev/zero is refused (400, got $code)" '[ "$code" = 400 ] && [ ! -e "$data/models/zero" ]'
code=$(curl -s --max-time 5 -o "$tmp/body" -w '%{http_code}' "$url/v1/models" -H 'Content-Type: application/json' \
       -d "{\"source_url\":\"file://$tmp/dl.fifo\",\"id\":\"fifo\"}")
check "a download of a FIFO is refused (400, got $code)" '[ "$code" = 400 ] && [ ! -e "$data/models/fifo" ]'

# ---- slow clients (this server: headers due 2 s after connecting, bodies 2 s after the headers) ----
python3 "$loaddir/slowloris.py" "$url" --conns 32 --seconds 8 --interval 1 >"$tmp/slow.json"
check "32 clients sending a header byte a second: all closed by the 2 s deadline (not before), others served meanwhile ($(cat "$tmp/slow.json"))" \
  "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d[\"opened\"] == 32 and d[\"closed_by_server\"] == 32 and d[\"first_close_s\"] >= 1.5 and d[\"probe_ok\"] >= 8 and not d[\"probe_fail\"] and d[\"probe_max_ms\"] < 2000 else 1)' '$tmp/slow.json'"
slow_body=$(python3 - "$url" <<'EOF'
import socket, sys, threading, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
res = {}
def trickle():
    s = socket.create_connection((u.hostname, u.port), timeout=5)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              b"Content-Length: 100\r\n\r\n")
    t0, sent = time.monotonic(), 0
    s.settimeout(1.0)
    while time.monotonic() - t0 < 20 and sent < 100:
        try:
            s.send(b" ")
            sent += 1
            if s.recv(4096) == b"":
                break  # the server closed it
        except socket.timeout:
            continue
        except OSError:
            break
    res["after"] = round(time.monotonic() - t0, 1)
    res["sent"] = sent
th = threading.Thread(target=trickle)
th.start()
ok = 0
for _ in range(6):  # another client, served meanwhile
    c = socket.create_connection((u.hostname, u.port), timeout=5)
    c.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    ok += c.recv(100).startswith(b"HTTP/1.1 200")
    c.close()
    time.sleep(0.3)
th.join()
print("%d %d %s" % (res["sent"], ok, res["after"]))
EOF
)
read -r sb_sent sb_ok sb_after <<<"$slow_body"
check "a client sending its body a byte a second is closed (after ${sb_after:-?} s, ${sb_sent:-?} of 100 bytes) while another is served (${sb_ok:-?} of 6)" \
  '[ "${sb_sent:-100}" -lt 100 ] && [ "${sb_ok:-0}" = 6 ]'
health_ok && ok "alive after the slow clients" || bad "alive after the slow clients" "no /health"
# An SSE stream outlives the deadlines: the progress of a download served at 300 KB/s (about 4 s).
mkdir -p "$tmp/files"
cp "$model" "$tmp/files/slow.gguf"
python3 "$loaddir/range_server.py" "$tmp/files" --rate 300000 >"$tmp/rs.port" 2>"$tmp/rs.log" &
pids+=($!)
wait_for 5 test -s "$tmp/rs.port" || bad "range_server started" "no port"
rs_port=$(head -1 "$tmp/rs.port")
post /v1/models "{\"source_url\":\"http://127.0.0.1:$rs_port/slow/slow.gguf\",\"id\":\"slowdl\"}"
expect "a slow download starts" 200 'd["state"] == "downloading"'
t_sse=$EPOCHREALTIME
curl -s -N --max-time 60 "$url/v1/models/slowdl/download" >"$tmp/sse"
sse_s=$(( (${EPOCHREALTIME/./} - ${t_sse/./}) / 1000000 ))
check "its SSE progress stream ran ${sse_s} s, past the 2 s deadlines, to the state done" \
  '[ "$sse_s" -ge 2 ] && grep "^data:" "$tmp/sse" | tail -1 | grep -q "\"state\":\"done\""' "$(tail -c 300 "$tmp/sse")"
req DELETE /v1/models/slowdl
expect "delete the downloaded model" 200 'd["deleted"] == True'
out=$(JANC_HEADER_TIMEOUT=abc "$bin" --data-dir "$data" serve --port 0 --no-watch 2>&1 >/dev/null)
rc=$?
check "a malformed \$JANC_HEADER_TIMEOUT: serve exits 1 with one line ($out)" \
  '[ "$rc" = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q JANC_HEADER_TIMEOUT <<<"$out"'

kill -TERM "$spid"; wait "$spid"; rc=$?
check "the server exits 0 on SIGTERM after all of it" '[ "$rc" = 0 ]' "rc $rc"

# ---- API key on every route ----------------------------------------------------------------
JANC_NO_DOWNLOADS=1 start_server keyed "$data" --api-key 'K3y-s3cret' --cors http://a.example
hdrs=$(curl -s -o /dev/null -D - "$url/health" -H 'Origin: http://evil.example')
check "with --cors http://a.example the allowed origin is that one, never the request's Origin" \
  'grep -qi "^access-control-allow-origin: http://a.example" <<<"$hdrs" && ! grep -qi "evil" <<<"$hdrs"' "$hdrs"
run_probe "$routes" <<'PY'
routes = [l.split() for l in argv[0].splitlines()]
wrong = [None, "Bearer wrong", "Bearer K3y-s3cre", "Bearer K3y-s3cretX", "Basic K3y-s3cret", "bearer K3y-s3cret",
         "K3y-s3cret", "Bearer  K3y-s3cret", "Bearer K3y-s3cret\t", ""]
n = bad = 0
for m, path in routes:
    for w in wrong:
        n += 1
        h = {} if w is None else {"Authorization": w}
        st, data = p.request(m, path.replace("{id}", "tiny"), "{}", h)
        want = 200 if path == "/health" else 401
        d = json.loads(data) if data.startswith(b"{") else None
        if st != want or (want == 401 and not (is_err_obj(d) and d["error"]["code"] == "invalid_api_key")):
            bad += 1
            print("  %s %s [%r] -> %d (want %d)" % (m, path, w, st, want))
    # with the right key the route is reached (an id that does not exist: nothing is touched)
    n += 1
    st, data = p.request(m, path.replace("{id}", "no-such-model"), "{}", {"Authorization": "Bearer K3y-s3cret"})
    if st == 401:
        bad += 1
        print("  %s %s with the key -> 401" % (m, path))
(p.ok if bad == 0 else lambda x: p.fail(x, "%d wrong" % bad))(
    "%d requests over %d routes: 401 without the right key, /health exempt, the key lets in" % (n, len(routes)))
p.expect("a key in the query string is not a key: 401", "GET", "/v1/models?api_key=K3y-s3cret", status=401)
p.expect("X-Api-Key is not the key: 401", "GET", "/v1/models", headers={"X-Api-Key": "K3y-s3cret"}, status=401)
p.expect("JANC_NO_DOWNLOADS=1: a download is refused (403)", "POST", "/v1/models",
         '{"source_url":"http://127.0.0.1:9/x.gguf","id":"nodl"}', 403,
         lambda d: d["error"]["code"] == "downloads_disabled", headers={"Authorization": "Bearer K3y-s3cret"})
PY
req GET /
check "the web page needs no key (it asks for one)" '[ "$code" = 200 ]' "status $code"
kill -TERM "$spid"; wait "$spid"

outside_sum >"$tmp/outside.after"
check "nothing outside the data folder changed" 'cmp -s "$tmp/outside.before" "$tmp/outside.after"'
[ -f "$data/models/tiny/model.json" ] && [ -L "$data/models/tiny/stories260K.gguf" ] && ok "the model tiny is intact" \
  || bad "tiny intact" "$(ls -la "$data/models/tiny")"
check_sanitizer_logs
finish

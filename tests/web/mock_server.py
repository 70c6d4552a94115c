#!/usr/bin/env python3
"""mock_server.py — a stand-in for `janc serve` used while developing the
built-in page (and to test the page's logic on its own): serves web/ at "/"
and fakes the API shapes the page uses (see docs/web.md).

    tests/web/mock_server.py [--port 3999] [--api-key K]

Models live in memory. Chat answers stream a canned markdown reply word by
word (50 ms apart, or forever with max_tokens >= 100000), so stop can be
tried. A download fakes progress over ~5 s. Not part of janc.
"""
import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WEB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "web")
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
REPLY = ("Here is **a short answer** with `inline code` and a list:\n\n"
         "1. first item\n2. second *item*\n\n```c\nint main(void) { return 0; }\n```\n\n"
         "See [the docs](https://example.com/docs) — and <b>no HTML</b> gets through.")

LOCK = threading.Lock()
MODELS = {}


def model(mid, state="ready", size=1_100_000, quant="Q8_0"):
    return {"id": mid, "object": "model", "created": 1700000000, "owned_by": "you", "name": mid,
            "version": "1", "description": "", "format": "ggufv3", "state": state, "source_url": "",
            "settings": {"ctx_len": 512, "ngl": 100, "embedding": False, "n_parallel": 1},
            "parameters": {"temperature": 0.7, "token_limit": 512, "top_k": 40, "top_p": 0.95, "stream": True},
            "metadata": {"architecture": "llama", "quantization": quant, "size": size, "parameters": size // 4}, "assets": ["."]}


MODELS["stories"] = model("stories")
MODELS["tinyllama-1.1b-chat"] = model("tinyllama-1.1b-chat", size=1_170_000_000, quant="Q4_K_M")


def fake_download(mid, total=80_000_000):
    start = time.time()
    while True:
        time.sleep(0.3)
        with LOCK:
            m = MODELS.get(mid)
            if not m:
                return
            frac = min(1.0, (time.time() - start) / 5)
            m["download"] = {"transferred": int(total * frac), "total": total, "percent": round(100 * frac, 1),
                             "speed": total / 5, "state": "downloading" if frac < 1 else "done"}
            if frac >= 1:
                m["state"] = "ready"
                del m["download"]
                return


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_json(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def error(self, code, msg, kind="invalid_request_error", err_code=None):
        self.send_json(code, {"error": {"message": msg, "type": kind, "param": None, "code": err_code}})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return None

    def authorized(self):
        if self.server.api_key and self.path.startswith("/v1/"):
            if self.headers.get("Authorization") != "Bearer " + self.server.api_key:
                self.error(401, "Invalid or missing API key", "authentication_error", "invalid_api_key")
                return False
        return True

    def do_GET(self):
        if not self.authorized():
            return
        p = self.path.split("?")[0]
        if p == "/v1/models":
            with LOCK:
                return self.send_json(200, {"object": "list", "data": [MODELS[k] for k in sorted(MODELS)]})
        if p.startswith("/v1/models/"):
            with LOCK:
                m = MODELS.get(p[len("/v1/models/"):])
                return self.send_json(200, m) if m else self.error(404, "model not found", err_code="model_not_found")
        name = "index.html" if p == "/" else p.lstrip("/")
        f = os.path.join(WEB, name)
        if "/" in name or not os.path.isfile(f):
            return self.error(404, "not found")
        data = open(f, "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", TYPES.get(os.path.splitext(f)[1], "application/octet-stream"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_DELETE(self):
        if not self.authorized():
            return
        mid = self.path[len("/v1/models/"):]
        with LOCK:
            if MODELS.pop(mid, None) is None:
                return self.error(404, "model not found", err_code="model_not_found")
        self.send_json(200, {"id": mid, "object": "model", "deleted": True})

    def do_PATCH(self):
        if not self.authorized():
            return
        mid, b = self.path[len("/v1/models/"):], self.body()
        with LOCK:
            m = MODELS.get(mid)
            if not m:
                return self.error(404, "model not found", err_code="model_not_found")
            for g in ("settings", "parameters"):
                m[g].update((b or {}).get(g, {}))
            self.send_json(200, m)

    def do_POST(self):
        if not self.authorized():
            return
        p, b = self.path, self.body()
        if b is None:
            return self.error(400, "body is not JSON")
        if p == "/v1/chat/completions":
            return self.chat(b)
        if p == "/v1/models/import":
            mid = b.get("id") or os.path.splitext(os.path.basename(b.get("path", "")))[0]
            if not b.get("path", "").endswith(".gguf"):
                return self.error(400, "not a GGUF file: " + b.get("path", ""))
            with LOCK:
                MODELS[mid] = model(mid)
                return self.send_json(200, MODELS[mid])
        if p == "/v1/models":
            url = b.get("source_url", "")
            mid = b.get("id") or os.path.splitext(url.rsplit("/", 1)[-1])[0]
            with LOCK:
                if mid in MODELS:
                    return self.error(409, "model exists: " + mid)
                MODELS[mid] = model(mid, state="downloading")
                MODELS[mid]["source_url"] = url
            threading.Thread(target=fake_download, args=(mid,), daemon=True).start()
            return self.send_json(200, MODELS[mid])
        for act, state in (("/start", "running"), ("/stop", "ready")):
            if p.startswith("/v1/models/") and p.endswith(act):
                mid = p[len("/v1/models/"):-len(act)]
                with LOCK:
                    m = MODELS.get(mid)
                    if not m:
                        return self.error(404, "model not found", err_code="model_not_found")
                    m["state"] = state
                    return self.send_json(200, m)
        self.error(404, "no route")

    def chat(self, b):
        if b.get("model") not in MODELS:
            return self.error(404, "model not found", err_code="model_not_found")
        words = REPLY.split(" ")
        forever = (b.get("max_tokens") or 0) >= 100000
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            i = 0
            while forever or i < len(words):
                w = words[i % len(words)] + " "
                chunk = {"object": "chat.completion.chunk", "model": b["model"],
                         "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                self.wfile.flush()
                i += 1
                time.sleep(0.05)
            done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(b"data: " + json.dumps(done).encode() + b"\n\ndata: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page pressed stop
        self.close_connection = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=3999)
    ap.add_argument("--api-key", default="")
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), H)
    srv.api_key = a.api_key
    srv.daemon_threads = True
    print("mock on http://127.0.0.1:%d/" % a.port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

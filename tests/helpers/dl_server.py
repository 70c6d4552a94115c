#!/usr/bin/env python3
"""dl_server.py — a small HTTP server for janc's download tests.

Serves the files of ROOT on 127.0.0.1 (loopback only) and misbehaves on
purpose, chosen by the first path component:

  /ok/NAME        honours Range (206 with Content-Range), sends ETag = sha256
  /plain/NAME     honours Range, no ETag
  /drop/NAME      a request without Range gets half the body, then the
                  connection is closed; a Range request is served normally
  /norange/NAME   ignores Range: always 200 with the whole body
  /short/NAME     declares the full length, sends half, closes (every time)
  /long/NAME      declares half the length, sends it all (keeps it short
                  by closing); the client gets a truncated file
  /badetag/NAME   a wrong sha256 ETag
  /linked/NAME    302 to /plain/NAME with X-Linked-ETag = sha256 (as Hugging Face)
  /redirect/NAME  302 to /ok/NAME
  /slow/NAME      4 KiB every 50 ms (for cancel tests)
  /403/NAME, /404/NAME  that status

Usage: dl_server.py ROOT  — prints the port on the first line of stdout,
then serves until killed. Each request is logged to stderr.
"""
import hashlib
import http.server
import os
import re
import socketserver
import sys
import time

ROOT = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("dl_server: %s %s\n" % (self.headers.get("Range", "-"), fmt % args))

    def body(self, name):
        path = os.path.join(ROOT, os.path.basename(name))
        with open(path, "rb") as f:
            return f.read()

    def send_bytes(self, code, data, headers=(), length=None):
        self.send_response(code)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def ranged(self, data, headers=()):
        rng = self.headers.get("Range")
        m = re.match(r"bytes=(\d+)-(\d*)$", rng or "")
        if not m:
            return self.send_bytes(200, data, list(headers) + [("Accept-Ranges", "bytes")])
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else len(data) - 1
        if start >= len(data):
            return self.send_bytes(416, b"", [("Content-Range", "bytes */%d" % len(data))])
        part = data[start:end + 1]
        self.send_bytes(206, part, list(headers) + [("Content-Range", "bytes %d-%d/%d" % (start, end, len(data)))])

    def cut(self, data, declared):
        """Declares `declared` bytes, sends half of data, closes."""
        self.send_response(200)
        self.send_header("Content-Length", str(declared))
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def do_GET(self):
        parts = self.path.split("/", 2)
        if len(parts) < 3:
            return self.send_bytes(404, b"no")
        mode, name = parts[1], parts[2]
        if mode == "403":
            return self.send_bytes(403, b"forbidden")
        if mode == "404":
            return self.send_bytes(404, b"not found")
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "/ok/" + name)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        try:
            data = self.body(name)
        except OSError:
            return self.send_bytes(404, b"not found")
        sha = hashlib.sha256(data).hexdigest()
        if mode == "linked":
            self.send_response(302)
            self.send_header("Location", "/plain/" + name)
            self.send_header("X-Linked-ETag", '"%s"' % sha)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "ok":
            return self.ranged(data, [("ETag", '"%s"' % sha)])
        if mode == "plain":
            return self.ranged(data)
        if mode == "badetag":
            return self.ranged(data, [("ETag", '"%s"' % ("0" * 64))])
        if mode == "drop":
            if self.headers.get("Range"):
                return self.ranged(data)
            return self.cut(data, len(data))
        if mode == "norange":
            return self.send_bytes(200, data)
        if mode == "short":
            return self.cut(data, len(data))
        if mode == "long":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data) // 2))
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return
        if mode == "slow":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                for i in range(0, len(data), 4096):
                    self.wfile.write(data[i:i + 4096])
                    self.wfile.flush()
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        self.send_bytes(404, b"unknown mode")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

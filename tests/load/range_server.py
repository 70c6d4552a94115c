#!/usr/bin/env python3
"""range_server.py — a loopback HTTP file server that honours Range, for the fault tests.

  range_server.py ROOT [--rate BYTES_PER_S]

  /fast/NAME   the file at full speed
  /slow/NAME   the file at --rate bytes/s (16 KiB pieces), so a client can be
               killed mid-body

Both honour "Range: bytes=START-" (206 + Content-Range) and send an ETag
that is the file's sha256. Prints the port on the first line of stdout.
Logs one line per request to stderr when it starts and when it ends:
  begin PATH range=START|-
  end PATH range=START|- sent=BYTES
so a test can tell where a resumed download started and how much each
request carried. Serves until killed.
"""
import argparse
import hashlib
import http.server
import os
import re
import socketserver
import sys
import time

A = None


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        parts = self.path.split("/", 2)
        if len(parts) < 3 or parts[1] not in ("fast", "slow"):
            self.send_error(404)
            return
        path = os.path.join(A.root, os.path.basename(parts[2]))
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        m = re.match(r"bytes=(\d+)-$", rng or "")
        start = int(m.group(1)) if m else 0
        tag = m.group(1) if m else "-"
        log("begin %s range=%s" % (self.path, tag))
        if start >= len(data) and m:
            self.send_response(416)
            self.send_header("Content-Range", "bytes */%d" % len(data))
            self.send_header("Content-Length", "0")
            self.end_headers()
            log("end %s range=%s sent=0" % (self.path, tag))
            return
        body = data[start:]
        self.send_response(206 if m else 200)
        if m:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", '"%s"' % hashlib.sha256(data).hexdigest())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        sent = 0
        piece = 16384
        try:
            for i in range(0, len(body), piece):
                chunk = body[i:i + piece]
                self.wfile.write(chunk)
                self.wfile.flush()
                sent += len(chunk)
                if parts[1] == "slow":
                    time.sleep(piece / A.rate)
        except (BrokenPipeError, ConnectionResetError):
            pass
        log("end %s range=%s sent=%d" % (self.path, tag, sent))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("--rate", type=float, default=1 << 20)
    A = p.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

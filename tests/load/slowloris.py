#!/usr/bin/env python3
"""slowloris.py — slow clients against a loopback server, bounded in time.

  slowloris.py URL --conns N --seconds S [--interval I] [--probe PATH]

Opens N connections that each send a request line and then one header
byte every I seconds (never finishing the headers), for S seconds. Meanwhile
the main thread asks PATH (default /health) on a fresh connection every
0.5 s and times the answer. At the end every slow connection is closed.
Prints one JSON line:
  {"conns","opened","closed_by_server","first_close_s","probes","probe_ok",
   "probe_max_ms","probe_fail":[...]}
closed_by_server counts the slow connections the server closed (EOF or
reset) within S seconds; first_close_s is when the first was closed.
"""
import argparse
import json
import socket
import sys
import threading
import time
import urllib.parse


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--conns", type=int, default=10)
    p.add_argument("--seconds", type=float, default=12)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--probe", default="/health")
    a = p.parse_args()
    u = urllib.parse.urlparse(a.url)
    if u.hostname not in ("127.0.0.1", "localhost"):
        sys.exit("slowloris.py: loopback only")
    a.seconds = min(a.seconds, 30.0)  # bounded whatever the caller asks

    t0 = time.monotonic()
    socks, closed_at = [], {}
    for _ in range(a.conns):
        try:
            s = socket.create_connection((u.hostname, u.port), timeout=2)
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            s.setblocking(False)
            socks.append(s)
        except OSError:
            break
    stop = threading.Event()

    def drip():
        while not stop.is_set():
            for i, s in enumerate(socks):
                if i in closed_at:
                    continue
                try:
                    # the server closing shows as EOF (b"") or a reset
                    try:
                        if s.recv(4096) == b"":
                            closed_at[i] = time.monotonic() - t0
                            continue
                    except BlockingIOError:
                        pass
                    s.send(b"a")
                except OSError:
                    closed_at[i] = time.monotonic() - t0
            stop.wait(a.interval)

    th = threading.Thread(target=drip)
    th.start()
    probes, fails = [], []
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % a.probe).encode()
    while time.monotonic() - t0 < a.seconds:
        t1 = time.monotonic()
        try:
            c = socket.create_connection((u.hostname, u.port), timeout=5)
            c.sendall(req)
            got = b""
            while True:
                piece = c.recv(65536)
                if not piece:
                    break
                got += piece
            c.close()
            if got.startswith(b"HTTP/1.1 200"):
                probes.append((time.monotonic() - t1) * 1000)
            else:
                fails.append(got[:60].decode("latin-1"))
        except OSError as ex:
            fails.append(repr(ex))
        time.sleep(0.5)
    stop.set()
    th.join()
    for s in socks:
        s.close()
    print(json.dumps({
        "conns": a.conns, "opened": len(socks), "closed_by_server": len(closed_at),
        "first_close_s": round(min(closed_at.values()), 2) if closed_at else None,
        "probes": len(probes) + len(fails), "probe_ok": len(probes),
        "probe_max_ms": round(max(probes), 1) if probes else None, "probe_fail": fails[:5]}))


if __name__ == "__main__":
    main()

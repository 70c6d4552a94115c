#!/usr/bin/env python3
"""loadgen.py — a bounded load client for janc's load tests (loopback only).

  loadgen.py mix   URL MODEL --clients N --seconds S [--max-tokens K] [--requests R]
      N threads, each on its own keep-alive connection, send chat and text
      completions, every other one streaming, until S seconds have passed or
      R requests were sent in all. Every reply is checked: a 200 must be a
      complete, well-formed completion (non-streaming: the object, the
      choice and usage; streaming: only data events, one id, a final
      finish_reason, then [DONE]). Prints one JSON line:
      {"sent","ok","status":{code:count},"bad":[first problems],"rps","p50_ms","p99_ms","max_ms"}.

  loadgen.py burst URL MODEL --clients N [--max-tokens K]
      N connections send one long generation each at the same moment
      (a barrier), so that more arrive than the slots and queue hold.
      A 200 is checked as above; any other status must be an OpenAI error
      object. Prints {"status":{...},"codes":{error code:count},"bad":[...],"seconds"}.

  loadgen.py rss   URL MODEL PID --requests R --at A,B,...
      R cheap requests (max_tokens 4, chat/completion and streaming or not in
      turn) on one keep-alive connection; VmRSS of PID (kB) is read after
      request A, B, ... Prints {"rss_kb":{"A":kb,...},"ok","bad":[...],"rps"}.

  loadgen.py slots URL MODEL --slots N [--wait S] [--extra]
      Opens N long streaming generations one after another and checks that
      each one gets its first token within S seconds while all the earlier
      ones are still streaming: N slots are free. With --extra, one stream
      more must get no token within S seconds (there are only N slots).
      Prints {"first_ms":[...],"ok","extra_blocked"}; all streams are then closed.

Every socket has a timeout; every mode ends by itself.
"""
import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse

TIMEOUT = 30.0


def conn_for(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=TIMEOUT)


def body_for(model, i, max_tokens, stream, extra=None):
    if i % 2 == 0:
        path = "/v1/chat/completions"
        b = {"model": model, "messages": [{"role": "user", "content": "Tell a story %d" % i}]}
    else:
        path = "/v1/completions"
        b = {"model": model, "prompt": "Once upon a time %d" % i}
    b.update({"max_tokens": max_tokens, "temperature": 0.8, "seed": i, "stream": stream})
    if extra:
        b.update(extra)
    return path, json.dumps(b).encode()


def check_reply(path, stream, status, data):
    """None when the reply is right, else a short description of what is wrong."""
    chat = path.endswith("chat/completions")
    if status != 200:
        try:
            e = json.loads(data)["error"]
            if not (set(e) == {"message", "type", "param", "code"} and e["message"]):
                return "status %d without a proper error object" % status
        except Exception:
            return "status %d, body not an error object: %r" % (status, data[:120])
        return None
    try:
        if not stream:
            d = json.loads(data)
            obj = "chat.completion" if chat else "text_completion"
            if d["object"] != obj:
                return "wrong object %r" % d["object"]
            c = d["choices"][0]
            if c["finish_reason"] not in ("stop", "length"):
                return "finish_reason %r" % c["finish_reason"]
            u = d["usage"]
            if u["total_tokens"] != u["prompt_tokens"] + u["completion_tokens"] or u["completion_tokens"] < 1:
                return "bad usage %r" % u
            return None
        text = data.decode()
        events = [e for e in text.split("\n\n") if e.strip()]
        if not events or events[-1] != "data: [DONE]":
            return "stream does not end with [DONE]: %r" % text[-120:]
        if not all(e.startswith("data: ") for e in events):
            return "an event is not a data line"
        chunks = [json.loads(e[6:]) for e in events[:-1]]
        if len({c["id"] for c in chunks}) != 1:
            return "ids differ within a stream"
        fins = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
        if not fins or fins[-1] not in ("stop", "length") or any(f is not None for f in fins[:-1]):
            return "finish_reason not last only: %r" % fins
        return None
    except Exception as ex:  # a malformed reply
        return "malformed reply (%s): %r" % (ex, data[:160])


def one_request(c, path, body, stream):
    """Sends one request on connection c; returns (status, bytes, new connection or c)."""
    c.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if r.getheader("Connection", "").lower() == "close":
        c.close()
    return r.status, data


def pct(xs, p):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def mode_mix(a):
    lock = threading.Lock()
    st = {"sent": 0, "ok": 0, "status": {}, "bad": [], "lat": []}
    t_end = time.monotonic() + a.seconds

    def worker(w):
        c = conn_for(a.url)
        i = w
        while time.monotonic() < t_end:
            with lock:
                if a.requests and st["sent"] >= a.requests:
                    break
                st["sent"] += 1
                n = st["sent"]
            stream = (n % 2) == 0
            path, body = body_for(a.model, i, a.max_tokens, stream)
            i += a.clients
            t0 = time.monotonic()
            try:
                status, data = one_request(c, path, body, stream)
                problem = check_reply(path, stream, status, data)
            except Exception as ex:
                status, problem = 0, "connection error: %r" % ex
                c.close()
                c = conn_for(a.url)
            dt = (time.monotonic() - t0) * 1000
            with lock:
                st["status"][status] = st["status"].get(status, 0) + 1
                st["lat"].append(dt)
                if status == 200 and not problem:
                    st["ok"] += 1
                elif problem and len(st["bad"]) < 5:
                    st["bad"].append(problem)
        c.close()

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(w,)) for w in range(a.clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    el = time.monotonic() - t0
    lat = st.pop("lat")
    st["rps"] = round(st["sent"] / el, 1) if el else 0
    st["seconds"] = round(el, 2)
    st["p50_ms"], st["p99_ms"], st["max_ms"] = (round(pct(lat, 50), 1), round(pct(lat, 99), 1),
                                                round(max(lat) if lat else 0, 1))
    print(json.dumps(st))


def mode_burst(a):
    lock = threading.Lock()
    st = {"status": {}, "codes": {}, "bad": []}
    barrier = threading.Barrier(a.clients)

    def worker(w):
        stream = w % 2 == 0
        path, body = body_for(a.model, w, a.max_tokens, stream, {"ignore_eos": True})
        c = conn_for(a.url)
        try:
            c.connect()
            barrier.wait(timeout=TIMEOUT)
            status, data = one_request(c, path, body, stream)
            problem = check_reply(path, stream, status, data)
            code = None
            if status != 200:
                try:
                    code = json.loads(data)["error"]["code"]
                except Exception:
                    pass
        except Exception as ex:
            status, problem, code = 0, "connection error: %r" % ex, None
        c.close()
        with lock:
            st["status"][status] = st["status"].get(status, 0) + 1
            if code:
                st["codes"][code] = st["codes"].get(code, 0) + 1
            if problem and len(st["bad"]) < 5:
                st["bad"].append(problem)

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(w,)) for w in range(a.clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    st["seconds"] = round(time.monotonic() - t0, 2)
    print(json.dumps(st))


def read_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def mode_rss(a):
    marks = sorted(int(x) for x in a.at.split(","))
    out = {"rss_kb": {}, "ok": 0, "bad": []}
    c = conn_for(a.url)
    t0 = time.monotonic()
    for n in range(1, a.requests + 1):
        stream = n % 4 == 0
        path, body = body_for(a.model, n, 4, stream)
        try:
            status, data = one_request(c, path, body, stream)
            problem = check_reply(path, stream, status, data)
        except Exception as ex:
            status, problem = 0, "connection error: %r" % ex
            c.close()
            c = conn_for(a.url)
        if status == 200 and not problem:
            out["ok"] += 1
        elif len(out["bad"]) < 5:
            out["bad"].append(problem or "status %d" % status)
        if n in marks:
            out["rss_kb"][str(n)] = read_rss(a.pid)
    el = time.monotonic() - t0
    c.close()
    out["rps"] = round(a.requests / el, 1)
    out["seconds"] = round(el, 2)
    print(json.dumps(out))


def mode_slots(a):
    """N long streams, each must start while the earlier ones still stream."""
    u = urllib.parse.urlparse(a.url)
    import socket
    socks, firsts, ok, extra_blocked = [], [], True, None
    body = json.dumps({"model": a.model, "prompt": "Once", "max_tokens": 100000, "ignore_eos": True,
                       "stream": True}).encode()
    try:
        for i in range(a.slots):
            s = socket.create_connection((u.hostname, u.port), timeout=a.wait)
            t0 = time.monotonic()
            s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            got = b""
            try:
                while b"data: {" not in got:
                    piece = s.recv(4096)
                    if not piece:
                        break
                    got += piece
            except socket.timeout:
                pass
            dt = time.monotonic() - t0
            firsts.append(round(dt * 1000, 1))
            socks.append(s)
            if b"data: {" not in got or dt > a.wait:
                ok = False
                break
        # the earlier streams must still be going: each has more to read
        for s in socks:
            s.settimeout(a.wait)
            if not s.recv(4096):
                ok = False
        # one stream more than the slots must wait: no first token within --wait s
        if a.extra and ok:
            s = socket.create_connection((u.hostname, u.port), timeout=a.wait)
            s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            socks.append(s)
            got, t0 = b"", time.monotonic()
            try:
                while b"data: {" not in got and time.monotonic() - t0 < a.wait:
                    piece = s.recv(4096)
                    if not piece:
                        break
                    got += piece
            except socket.timeout:
                pass
            extra_blocked = b"data: {" not in got
    except OSError:
        ok = False
    for s in socks:
        s.close()
    out = {"first_ms": firsts, "ok": ok}
    if a.extra:
        out["extra_blocked"] = extra_blocked
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["mix", "burst", "rss", "slots"])
    p.add_argument("url")
    p.add_argument("model")
    p.add_argument("pid", nargs="?", type=int)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--requests", type=int, default=0)
    p.add_argument("--max-tokens", type=int, default=8)
    p.add_argument("--at", default="200,1000")
    p.add_argument("--slots", type=int, default=2)
    p.add_argument("--wait", type=float, default=2.0)
    p.add_argument("--extra", action="store_true")
    a = p.parse_args()
    if not a.url.startswith("http://127.0.0.1:") and not a.url.startswith("http://localhost:"):
        sys.exit("loadgen.py: loopback URLs only")
    {"mix": mode_mix, "burst": mode_burst, "rss": mode_rss, "slots": mode_slots}[a.mode](a)


if __name__ == "__main__":
    main()

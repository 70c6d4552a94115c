"""probe.py — many HTTP checks from one Python process (imported by the e2e scripts).

    import sys; sys.path.insert(0, LOADDIR); from probe import Probe, ERR_OBJ
    p = Probe(url, t0)
    p.expect("name", "POST", "/v1/completions", body='{"x":1}', status=400,
             check=lambda d: d["error"]["param"] == "x")
    p.done()   # prints "probe: N passed, M failed" as its last line

Each expect() sends one request on a fresh connection (raw path, nothing
re-encoded), reads the whole answer, and prints "ok   [time] name" or
"FAIL [time] name: why". status may be an int or a tuple of ints. check gets
the parsed JSON body (None when it is not JSON); err_obj=True (the default
for statuses >= 400) also requires the body to be exactly an OpenAI error
object {"error":{"message","type","param","code"}}.
"""
import http.client
import json
import time
import urllib.parse


def is_err_obj(d):
    try:
        e = d["error"]
        return (set(d) == {"error"} and set(e) == {"message", "type", "param", "code"}
                and isinstance(e["message"], str) and e["message"] != "" and isinstance(e["type"], str)
                and (e["param"] is None or isinstance(e["param"], str))
                and (e["code"] is None or isinstance(e["code"], str)))
    except (TypeError, KeyError):
        return False


ERR_OBJ = is_err_obj


class Probe:
    def __init__(self, url, t0=None):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.t0 = t0 if t0 is not None else time.time()
        self.passed = self.failed = 0

    def stamp(self):
        t = time.time() - self.t0
        return "%3d.%02ds" % (int(t), int(t * 100) % 100)

    def request(self, method, path, body=None, headers=None, timeout=20):
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        h = dict(headers or {})
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogateescape")
        if body is not None and "Content-Type" not in h:
            h["Content-Type"] = "application/json"
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in h.items():
            c.putheader(k, v)
        if body is not None and "Transfer-Encoding" not in h:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def ok(self, name):
        self.passed += 1
        print("ok   [%s] %s" % (self.stamp(), name), flush=True)

    def fail(self, name, why):
        self.failed += 1
        print("FAIL [%s] %s: %s" % (self.stamp(), name, why), flush=True)

    def expect(self, name, method, path, body=None, status=400, check=None, headers=None, err_obj=None):
        try:
            st, data = self.request(method, path, body, headers)
        except Exception as ex:
            return self.fail(name, "no answer: %r" % ex)
        try:
            d = json.loads(data)
        except ValueError:
            d = None
        want = status if isinstance(status, (tuple, list)) else (status,)
        if err_obj is None:
            err_obj = min(want) >= 400
        why = None
        if st not in want:
            why = "status %d, want %s" % (st, "/".join(map(str, want)))
        elif err_obj and not is_err_obj(d):
            why = "not an OpenAI error object"
        elif check:
            try:
                if not check(d):
                    why = "check failed"
            except Exception as ex:
                why = "check raised %r" % ex
        if why:
            self.fail(name, "%s; body %r" % (why, data[:200]))
        else:
            self.ok(name)
        return d

    def done(self):
        print("probe: %d passed, %d failed" % (self.passed, self.failed), flush=True)

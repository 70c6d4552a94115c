#!/usr/bin/env bash
# Download speed (issue 7): `janc models pull` of a ~1.2 GB GGUF from a local
# HTTP server on loopback, SHA-256 computed while downloading (janc records
# it in metadata.sha256). Prints MB/s over REPS pulls (median), next to the
# speed of plain `curl -o /dev/null` of the same file in the same run, which
# is what the loopback server itself can give, and the CPU time janc took
# (steadier than the speed on a busy machine).
#   bench/download.sh [REPS]        (JANC_BUILD=build by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${JANC_BUILD:-build}
reps=${1:-3}
ninja -C "$build" janc bench_gguf >/dev/null
tmp=$(mktemp -d)
srv_pid=""
trap '[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/www"
out=$("$build/bench_gguf" --reps 1 --dir "$tmp/www" --keep)
file=$(sed -n 's/^kept //p' <<<"$out")
name=$(basename "$file")
size=$(stat -c %s "$file")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$tmp/www" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
srv_pid=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
url="http://127.0.0.1:$port/$name"
python3 - "$build/janc" "$url" "$size" "$reps" "$tmp" <<'PY'
import json, os, resource, subprocess, sys, time, statistics
janc, url, size, reps, tmp = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def timed(cmd, env=None):
    t = time.monotonic(); subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.monotonic() - t
def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN); return r.ru_utime, r.ru_stime
curl, pull, user, sys_ = [], [], [], []
for r in range(reps):
    curl.append(size / timed(["curl", "-sf", "-o", "/dev/null", url]) / 1e6)
    data = os.path.join(tmp, f"data{r}")
    u0, s0 = cpu()
    pull.append(size / timed([janc, "--data-dir", data, "models", "pull", url, "--id", "big"]) / 1e6)
    u1, s1 = cpu()
    user.append(u1 - u0); sys_.append(s1 - s0)
    mj = json.load(open(os.path.join(data, "models", "big", "model.json")))
    assert len(mj["metadata"].get("sha256", "")) == 64, "no sha256 recorded"
    subprocess.run(["rm", "-rf", data])
print(f"file: {size/1e9:.2f} GB over loopback, {reps} runs")
print(f"curl -o /dev/null : {statistics.median(curl):7.0f} MB/s (median)")
print(f"janc models pull  : {statistics.median(pull):7.0f} MB/s (median; SHA-256 while downloading, atomic move, model.json) "
      f"= {statistics.median(pull)/statistics.median(curl):.0%} of curl")
print(f"janc CPU time     : {statistics.median(user):7.2f} s user + {statistics.median(sys_):.2f} s system (median)")
PY

#!/usr/bin/env python3
"""mkgguf.py — writes a tiny GGUF v3 file for janc's shell tests.

  mkgguf.py OUT [--arch llama] [--name NAME] [--ctx N] [--floats N] [--truncate BYTES]

One F32 tensor of --floats elements, general.architecture, general.name,
<arch>.context_length, a 5-token vocabulary with BOS/EOS ids. --truncate
cuts the file to that many bytes (a file still being copied).
"""
import argparse
import struct

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--arch", default="llama")
p.add_argument("--name", default=None)
p.add_argument("--ctx", type=int, default=2048)
p.add_argument("--floats", type=int, default=64)
p.add_argument("--truncate", type=int, default=None)
a = p.parse_args()

STR, U32, ARR = 8, 4, 9


def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


kv = []
kv.append(s("general.architecture") + struct.pack("<I", STR) + s(a.arch))
if a.name:
    kv.append(s("general.name") + struct.pack("<I", STR) + s(a.name))
kv.append(s("general.file_type") + struct.pack("<II", U32, 0))
if a.ctx:
    kv.append(s(a.arch + ".context_length") + struct.pack("<II", U32, a.ctx))
toks = ["<unk>", "<s>", "</s>", "a", "b"]
kv.append(s("tokenizer.ggml.tokens") + struct.pack("<IIQ", ARR, STR, len(toks)) + b"".join(s(t) for t in toks))
kv.append(s("tokenizer.ggml.bos_token_id") + struct.pack("<II", U32, 1))
kv.append(s("tokenizer.ggml.eos_token_id") + struct.pack("<II", U32, 2))

tensor = s("blk.0.weight") + struct.pack("<IQIQ", 1, a.floats, 0, 0)
head = b"GGUF" + struct.pack("<IQQ", 3, 1, len(kv)) + b"".join(kv) + tensor
head += b"\0" * ((32 - len(head) % 32) % 32)
data = b"".join(struct.pack("<f", i * 0.5) for i in range(a.floats))
data += b"\0" * ((32 - len(data) % 32) % 32)
blob = head + data
if a.truncate is not None:
    blob = blob[: a.truncate]
with open(a.out, "wb") as f:
    f.write(blob)

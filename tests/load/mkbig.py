#!/usr/bin/env python3
"""mkbig.py — writes a large but valid GGUF v3 file fast, for the fault tests.

  mkbig.py OUT MIB

One F32 tensor of MIB MiB (a repeated byte pattern, not zeros, so no file
system can store it sparse), general.architecture llama, a name, a context
length and a 5-token vocabulary: a complete GGUF that import and pull
accept (it is not meant to run).
"""
import struct
import sys

out, mib = sys.argv[1], int(sys.argv[2])
STR, U32, ARR = 8, 4, 9


def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


kv = [s("general.architecture") + struct.pack("<I", STR) + s("llama"),
      s("general.name") + struct.pack("<I", STR) + s("Big %d MiB" % mib),
      s("general.file_type") + struct.pack("<II", U32, 0),
      s("llama.context_length") + struct.pack("<II", U32, 2048)]
toks = ["<unk>", "<s>", "</s>", "a", "b"]
kv.append(s("tokenizer.ggml.tokens") + struct.pack("<IIQ", ARR, STR, len(toks)) + b"".join(s(t) for t in toks))
kv.append(s("tokenizer.ggml.bos_token_id") + struct.pack("<II", U32, 1))
kv.append(s("tokenizer.ggml.eos_token_id") + struct.pack("<II", U32, 2))
n_floats = mib << 18
tensor = s("blk.0.weight") + struct.pack("<IQIQ", 1, n_floats, 0, 0)
head = b"GGUF" + struct.pack("<IQQ", 3, 1, len(kv)) + b"".join(kv) + tensor
head += b"\0" * ((32 - len(head) % 32) % 32)
block = bytes((i * 7 + 3) & 0x3F for i in range(1 << 20))  # finite floats, never NaN
with open(out, "wb") as f:
    f.write(head)
    for _ in range(mib):
        f.write(block)

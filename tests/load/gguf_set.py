#!/usr/bin/env python3
"""gguf_set.py — copies a GGUF file with one integer metadata value changed.

  gguf_set.py IN OUT KEY VALUE

KEY must exist in IN with an integer type (u8..i64); VALUE must fit that
type. Everything else is copied byte for byte (the value keeps its size, so
no offset moves). Used to make a real model claim a huge context
(llama.context_length) for the allocation-failure and slot tests.
"""
import struct
import sys

# GGUF value types: size of the fixed-size ones
FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
INTS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 10: "<Q", 11: "<q"}
STRING, ARRAY = 8, 9


def main():
    src, dst, key, value = sys.argv[1], sys.argv[2], sys.argv[3].encode(), int(sys.argv[4])
    data = bytearray(open(src, "rb").read())
    if data[:4] != b"GGUF":
        sys.exit("gguf_set.py: %s is not a GGUF file" % src)
    ver, = struct.unpack_from("<I", data, 4)
    if ver < 2:
        sys.exit("gguf_set.py: GGUF v%d is not supported" % ver)
    n_kv, = struct.unpack_from("<Q", data, 16)
    off = 24

    def skip_value(t, off):
        if t in FIXED:
            return off + FIXED[t]
        if t == STRING:
            n, = struct.unpack_from("<Q", data, off)
            return off + 8 + n
        if t == ARRAY:
            et, n = struct.unpack_from("<IQ", data, off)
            off += 12
            for _ in range(n):
                off = skip_value(et, off)
            return off
        sys.exit("gguf_set.py: unknown value type %d at offset %d" % (t, off))

    for _ in range(n_kv):
        klen, = struct.unpack_from("<Q", data, off)
        k = bytes(data[off + 8:off + 8 + klen])
        off += 8 + klen
        t, = struct.unpack_from("<I", data, off)
        off += 4
        if k == key:
            if t not in INTS:
                sys.exit("gguf_set.py: %s has type %d, not an integer" % (key.decode(), t))
            struct.pack_into(INTS[t], data, off, value)
            open(dst, "wb").write(data)
            return
        off = skip_value(t, off)
    sys.exit("gguf_set.py: no key %s in %s" % (key.decode(), src))


if __name__ == "__main__":
    main()

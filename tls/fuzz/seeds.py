# Writes the handmade seed inputs of tls/fuzz/corpus/{records,records_embedded}:
# `python3 tls/fuzz/seeds.py tls/fuzz/corpus/records rustls` and
# `python3 tls/fuzz/seeds.py tls/fuzz/corpus/records_embedded embedded`.
# The input layout is the script of tls/fuzz/fuzz_targets/common.rs.
# Writes the handmade seed inputs (see tls/fuzz/fuzz_targets/common.rs for the layout).
import os, sys
out = sys.argv[1]
embedded = sys.argv[2] == "embedded"
READ = 3           # read size 16 384, no write
def data(n, write8=None):
    body = bytes([0, n]) + bytes((i * 7) % 251 + 1 for i in range(n))
    if write8 is None:
        return body + bytes([READ])
    return body + bytes([0x80 | READ, write8]) + b"w" * (write8 * 8)
CLOSE = bytes([3, READ])
def write(n8): return bytes([0x80 | 1, n8]) + b"w" * (n8 * 8)
modes = {"live13": 0, "sealed": 2} if embedded else {"live13": 0, "live12": 1, "sealed": 2}
seeds = {}
for name, m in modes.items():
    seeds[f"{name}-clean-data"] = bytes([m]) + data(40) + data(200) + CLOSE
    seeds[f"{name}-close-notify"] = bytes([m]) + CLOSE
    seeds[f"{name}-bad-record-type"] = bytes([m]) + data(10) + bytes([4, 0, 0x99, 10]) + b"x" * 10 + bytes([READ]) + data(5)
    seeds[f"{name}-truncated"] = bytes([m]) + data(10) + bytes([7, 0, 100, 0, 50])
    seeds[f"{name}-oversized"] = bytes([m]) + data(10) + bytes([6, 0, 10, 8]) + b"y" * 8 + bytes([READ])
    seeds[f"{name}-garbage-ciphertext"] = bytes([m]) + bytes([4, 3, 40]) + bytes(range(40)) + bytes([READ])
    seeds[f"{name}-plaintext-handshake"] = bytes([m]) + bytes([4, 1, 1, 8, 2, 0, 0, 4, 3, 3, 0, 0, READ])
    seeds[f"{name}-client-writes"] = bytes([{0: 6, 1: 4, 2: 5}[m]]) + data(3, 4) + bytes([11, 0, 7, READ]) + data(30, 2) + CLOSE
    seeds[f"{name}-plaintext-close-notify"] = bytes([m]) + data(4) + bytes([4, 1, 0, 2, 1, 0, READ]) + data(4)
    seeds[f"{name}-plaintext-finished"] = bytes([m]) + data(4) + bytes([4, 1, 1, 36, 20, 0, 0, 32]) + bytes([7] * 32) + bytes([READ]) + data(4)
    # Good and bad records in one read (chunk 20 000, no read between steps).
    big = {0: 18, 1: 16, 2: 17}[m]
    seeds[f"{name}-data-garbage-data-in-one-read"] = bytes([big]) + data(10)[:-1] + bytes([0x40 | READ]) + bytes([4, 3, 40]) + bytes(range(40)) + bytes([0x40 | READ]) + data(6)
    seeds[f"{name}-key-update"] = bytes([m]) + data(4) + bytes([10, 1, READ]) + data(4) + CLOSE
for name, m in modes.items():
    if name != "sealed":
        continue
    s = lambda shape, content, pad=0: bytes([8, shape, len(content)]) + bytes(content) + bytes([pad, READ])
    seeds["sealed-fatal-alert"] = bytes([m]) + data(4) + s(0, [2, 50])
    seeds["sealed-warning-user-canceled"] = bytes([m]) + data(4) + s(0, [1, 90]) + data(4) + CLOSE
    seeds["sealed-second-server-hello"] = bytes([m]) + data(4) + s(1, [2, 0, 0, 4, 3, 3, 0, 0]) + data(4)
    seeds["sealed-session-ticket"] = bytes([m]) + s(1, [4, 0, 0, 14, 0, 0, 0, 60, 1, 2, 3, 4, 0, 0, 1, 9, 0, 0]) + data(4) + CLOSE
    seeds["sealed-inner-ccs"] = bytes([m]) + s(3, [1])
    seeds["sealed-no-content-type"] = bytes([m]) + s(4, [], 5)
    seeds["sealed-finished-after-handshake"] = bytes([m]) + data(4) + s(1, [20, 0, 0, 32] + [7] * 32) + data(4)
    seeds["sealed-empty-record"] = bytes([m]) + data(4) + s(4, [], 0) + data(4)
    seeds["sealed-padded-data"] = bytes([m]) + s(2, b"padded", 7) + CLOSE
    seeds["sealed-empty-data"] = bytes([m]) + s(2, []) + data(3) + CLOSE
    seeds["sealed-oversized-plaintext"] = bytes([m]) + bytes([8, 0x42, 9, 0, READ]) + CLOSE
    seeds["sealed-full-fragment"] = bytes([m]) + bytes([8, 0x42, 8, 0, READ]) + CLOSE
os.makedirs(out, exist_ok=True)
for name, body in seeds.items():
    open(os.path.join(out, name), "wb").write(body)
print(len(seeds))

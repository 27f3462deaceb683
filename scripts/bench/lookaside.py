#!/usr/bin/python3
"""Replays a cachesim trace (tools/cachesim/trace.h) against a live server as a look-aside cache,
over one pipelined connection on 127.0.0.1, and prints one JSON object with the counts.

  lookaside.py --server=kvd|redis|memcached --port=PORT --pid=PID --trace=FILE
               [--batch=32] [--max-seconds=1800]

Each batch is up to --batch GETs of distinct keys (a key seen again starts the next batch, so a
GET never races the SET of its own earlier miss), then one SET for each miss. Every answer is
checked: a hit must return exactly the key's value, a SET must be answered as stored or as the
server's "cannot store" (kvd 507, Redis -OOM, memcached SERVER_ERROR), which is counted; anything
else stops the run (exit 1). Keys are "k<id>" (kvd: the path "/k<id>"); the value of a key of
size n is its text with a '.', repeated and cut to n bytes.

At the end: the server's key count (kvd /size, Redis DBSIZE, memcached curr_items), VmRSS of PID,
and the server's own memory and eviction figures. Standard library only (run with /usr/bin/python3).
The protocol classes are shared with scripts/bench/sizeshift.py.
"""
import argparse
import json
import socket
import struct
import sys
import time

HEADER = struct.Struct("<8sIIQQQQdQ")  # see tools/cachesim/trace.h


class ProtocolError(Exception):
    pass


def value_of(key, size):
    """The deterministic value of a key (bytes, e.g. b"k12") of `size` bytes."""
    unit = key + b"."
    return (unit * (size // len(unit) + 1))[:size]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Conn:
    """A buffered client socket: whole lines and exact byte counts."""

    def __init__(self, port, timeout=30):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def send(self, data):
        self.s.sendall(data)

    def fill(self):
        data = self.s.recv(1 << 20)
        if not data:
            raise ProtocolError("the server closed the connection")
        self.buf = self.buf[self.pos:] + data
        self.pos = 0

    def line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                out = self.buf[self.pos:i]
                self.pos = i + 2
                return out
            self.fill()

    def exact(self, n):
        while len(self.buf) - self.pos < n:
            self.fill()
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def close(self):
        self.s.close()


class Kvd:
    name = "kvd"

    def __init__(self, conn):
        self.c = conn

    def get_req(self, key):
        return b"GET /%s HTTP/1.1\r\nHost: kvd\r\n\r\n" % key

    def set_req(self, key, value):
        return b"POST /%s HTTP/1.1\r\nHost: kvd\r\nContent-Length: %d\r\n\r\n%s" % (key, len(value), value)

    def response(self):
        c = self.c
        while True:
            end = c.buf.find(b"\r\n\r\n", c.pos)
            if end >= 0:
                break
            c.fill()
        head = c.buf[c.pos:end]
        c.pos = end + 4
        i = head.find(b"Content-Length: ")
        if not head.startswith(b"HTTP/1.1 ") or i < 0:
            raise ProtocolError("kvd: unexpected response head %r" % head[:200])
        j = head.find(b"\r", i)
        n = int(head[i + 16:j if j >= 0 else len(head)])
        return int(head[9:12]), c.exact(n)

    def get_answer(self, key):
        """The value, or None on a miss (kvd's default miss is a 200 with an empty body)."""
        status, body = self.response()
        if status != 200:
            raise ProtocolError("kvd: GET /%s answered %d %r" % (key.decode(), status, body[:100]))
        return body if body else None

    def set_answer(self, key, value):
        """True if stored, False if the server could not store it."""
        status, body = self.response()
        if status == 200 and body == value:
            return True
        if status == 507:
            return False
        raise ProtocolError("kvd: POST /%s answered %d %r" % (key.decode(), status, body[:100]))

    def get_path(self, path):
        self.c.send(b"GET %s HTTP/1.1\r\nHost: kvd\r\n\r\n" % path)
        status, body = self.response()
        if status != 200:
            raise ProtocolError("kvd: GET %s answered %d" % (path.decode(), status))
        return body.decode()

    def stats(self):
        out = {"keys": int(self.get_path(b"/size"))}
        want = {"kvd_memory_used_bytes": "memory_used", "kvd_memory_reserved_bytes": "memory_reserved",
                "kvd_memory_limit_bytes": "memory_limit", "kvd_keys_evicted_total": "evicted",
                "kvd_cache_hits_total": "server_hits", "kvd_cache_misses_total": "server_misses"}
        for line in self.get_path(b"/metrics").splitlines():
            parts = line.split()
            if len(parts) != 2:
                continue
            name = parts[0].split("{", 1)[0]  # labelled series (evictions by reason) are summed
            if name in want:
                out[want[name]] = out.get(want[name], 0) + int(float(parts[1]))
        return out


class Redis:
    name = "redis"

    def __init__(self, conn):
        self.c = conn

    @staticmethod
    def command(*args):
        return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)

    def get_req(self, key):
        return self.command(b"GET", key)

    def set_req(self, key, value):
        return self.command(b"SET", key, value)

    def bulk(self):
        line = self.c.line()
        if line == b"$-1":
            return None
        if not line.startswith(b"$"):
            raise ProtocolError("redis: unexpected reply %r" % line[:200])
        data = self.c.exact(int(line[1:]) + 2)
        return data[:-2]

    def get_answer(self, key):
        return self.bulk()

    def set_answer(self, key, value):
        line = self.c.line()
        if line == b"+OK":
            return True
        if line.startswith(b"-OOM"):
            return False
        raise ProtocolError("redis: SET %s answered %r" % (key.decode(), line[:200]))

    def call(self, *args):
        self.c.send(self.command(*args))
        line = self.c.line()
        if line.startswith(b":"):
            return int(line[1:])
        if line.startswith(b"$"):
            return self.c.exact(int(line[1:]) + 2)[:-2].decode()
        raise ProtocolError("redis: %r answered %r" % (args, line[:200]))

    def stats(self):
        info = {}
        for section in (b"memory", b"stats"):
            for line in self.call(b"INFO", section).splitlines():
                k, _, v = line.partition(":")
                info[k] = v
        return {"keys": self.call(b"DBSIZE"), "memory_used": int(info["used_memory"]),
                "memory_limit": int(info["maxmemory"]), "evicted": int(info["evicted_keys"]),
                "server_hits": int(info["keyspace_hits"]), "server_misses": int(info["keyspace_misses"])}


class Memcached:
    name = "memcached"

    def __init__(self, conn):
        self.c = conn

    def get_req(self, key):
        return b"get %s\r\n" % key

    def set_req(self, key, value):
        return b"set %s 0 0 %d\r\n%s\r\n" % (key, len(value), value)

    def get_answer(self, key):
        line = self.c.line()
        if line == b"END":
            return None
        parts = line.split()
        if len(parts) != 4 or parts[0] != b"VALUE" or parts[1] != key:
            raise ProtocolError("memcached: get %s answered %r" % (key.decode(), line[:200]))
        data = self.c.exact(int(parts[3]) + 2)[:-2]
        end = self.c.line()
        if end != b"END":
            raise ProtocolError("memcached: get %s: %r after the value" % (key.decode(), end[:200]))
        return data

    def set_answer(self, key, value):
        line = self.c.line()
        if line == b"STORED":
            return True
        if line.startswith(b"SERVER_ERROR"):
            return False
        raise ProtocolError("memcached: set %s answered %r" % (key.decode(), line[:200]))

    def stats(self):
        self.c.send(b"stats\r\n")
        st = {}
        while True:
            line = self.c.line()
            if line == b"END":
                break
            _, k, v = line.decode().split(" ", 2)
            st[k] = v
        return {"keys": int(st["curr_items"]), "memory_used": int(st["bytes"]),
                "memory_limit": int(st["limit_maxbytes"]), "evicted": int(st["evictions"]),
                "server_hits": int(st["get_hits"]), "server_misses": int(st["get_misses"])}


SERVERS = {"kvd": Kvd, "redis": Redis, "memcached": Memcached}


def read_trace(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, version, rec_bytes, records, keys, requests, scan, zipf, seed = HEADER.unpack_from(data)
    if magic != b"KVDTRC01" or version != 1 or rec_bytes != 8 or len(data) != 64 + 8 * records:
        sys.exit(f"lookaside.py: {path} is not a cachesim trace")
    words = memoryview(data)[64:].cast("I")  # per record: id, then size | flags << 16
    meta = dict(records=records, keys=keys, requests=requests, scan_records=scan, zipf=zipf, seed=seed)
    return words, meta


def replay(proto, words, meta, batch, deadline):
    c = proto.c
    n = meta["records"]
    half = meta["requests"] // 2
    st = dict(gets=0, hits=0, late_gets=0, late_hits=0, scan_gets=0, scan_hits=0, sets=0, refused=0)
    zipf_i = 0
    i = 0
    while i < n:
        if time.monotonic() > deadline:
            raise ProtocolError("out of time after %d of %d requests" % (i, n))
        keys, sizes, flags = [], [], []
        seen = set()
        while i < n and len(keys) < batch:
            rid = words[2 * i]
            if rid in seen:
                break
            seen.add(rid)
            w = words[2 * i + 1]
            keys.append(b"k%d" % rid)
            sizes.append(w & 0xffff)
            flags.append(w >> 16)
            i += 1
        c.send(b"".join(proto.get_req(k) for k in keys))
        misses = []
        for k, size, fl in zip(keys, sizes, flags):
            got = proto.get_answer(k)
            hit = got is not None
            if hit and got != value_of(k, size):
                raise ProtocolError("%s: %s returned a wrong value (%d bytes, %r...)" %
                                    (proto.name, k.decode(), len(got), got[:40]))
            if fl & 1:
                st["scan_gets"] += 1
                st["scan_hits"] += hit
            else:
                st["gets"] += 1
                st["hits"] += hit
                if zipf_i >= half:
                    st["late_gets"] += 1
                    st["late_hits"] += hit
                zipf_i += 1
            if not hit:
                misses.append((k, value_of(k, size)))
        if misses:
            c.send(b"".join(proto.set_req(k, v) for k, v in misses))
            for k, v in misses:
                st["sets"] += 1
                st["refused"] += not proto.set_answer(k, v)
    return st


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True, choices=sorted(SERVERS))
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--trace", required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-seconds", type=float, default=1800)
    a = ap.parse_args()
    words, meta = read_trace(a.trace)
    start = time.monotonic()
    conn = Conn(a.port)
    proto = SERVERS[a.server](conn)
    try:
        st = replay(proto, words, meta, a.batch, start + a.max_seconds)
        time.sleep(0.5)  # let the server settle (kvd's expiry slices, Redis's cron) before reading
        st.update(proto.stats())
    except (ProtocolError, OSError) as e:
        sys.exit(f"lookaside.py: {a.server}: {e}")
    conn.close()
    st.update(server=a.server, rss_kib=rss_kib(a.pid), seconds=round(time.monotonic() - start, 1),
              hit_ratio=st["hits"] / max(1, st["gets"]), late_hit_ratio=st["late_hits"] / max(1, st["late_gets"]),
              trace=meta)
    print(json.dumps(st))


if __name__ == "__main__":
    main()

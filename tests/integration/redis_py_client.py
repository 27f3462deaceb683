"""The real Redis client library (redis-py) against kvd's RESP port; run by test_resp.py with the
Python that has `redis` installed (Debian's python3-redis, for /usr/bin/python3):

    /usr/bin/python3 redis_py_client.py basic PORT
    /usr/bin/python3 redis_py_client.py auth PORT PASSWORD

Exits 0 when every check holds, 1 with the failed check on stderr, 3 when `redis` cannot be
imported (the caller skips). Not a test module itself: its name does not match test_*.py.
"""
from __future__ import annotations

import sys
import time

try:
    import redis
except ImportError as e:  # the caller turns this into a skip
    print(f"cannot import redis: {e}", file=sys.stderr)
    sys.exit(3)


def check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def basic(port: int) -> None:
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    check(r.ping() is True, "ping")
    check(r.echo(b"hi\r\n\x00") == b"hi\r\n\x00", "echo of binary bytes")
    check(r.set("a", "1") is True, "set")
    check(r.get("a") == b"1", "get")
    check(r.get("missing") is None, "get of a missing key is None")
    check(r.set("a", "2", nx=True) is None, "set nx on an existing key")
    check(r.set("new", "x", xx=True) is None, "set xx on a missing key")
    check(r.set("a", "3", xx=True, get=True) == b"1", "set xx get returns the old value")
    check(r.set("e", "v", ex=100) is True and 95 <= r.ttl("e") <= 100, "set ex, ttl")
    check(r.set("p", "v", px=5000) is True and 0 < r.pttl("p") <= 5000, "set px, pttl")
    check(r.ttl("missing") == -2, "ttl of a missing key is -2")
    value = bytes(range(256)) * 40
    check(r.set("bin", value) and r.get("bin") == value, "a 10 KiB binary value round-trips")
    check(r.incr("n") == 1 and r.incr("n", 41) == 42 and r.decr("n", 2) == 40, "incr, incrby, decrby")
    try:
        r.incr("bin")
        raise AssertionError("incr of a non-integer did not raise")
    except redis.ResponseError as e:
        check("not an integer" in str(e), f"incr error: {e}")
    check(r.expire("a", 50) is True and 45 <= r.ttl("a") <= 50, "expire")
    check(r.pexpire("p", 200) is True, "pexpire")
    deadline = time.monotonic() + 5
    while r.exists("p") and time.monotonic() < deadline:
        time.sleep(0.05)
    check(r.get("p") is None, "a key expires after pexpire")
    check(r.mset({"m1": "a", "m2": "b", "m3": "c"}) is True, "mset")
    check(r.mget(["m1", "m2", "nope", "m3"]) == [b"a", b"b", None, b"c"], "mget")
    check(r.exists("m1", "m2", "nope") == 2, "exists counts")
    check(r.delete("m1", "m2", "nope") == 2, "delete counts")
    check(r.client_setname("pyclient") is True and r.client_getname() in ("pyclient", b"pyclient"), "client setname/getname")
    # A pipeline without MULTI/EXEC (kvd has no transactions): every reply, in order.
    p = r.pipeline(transaction=False)
    for i in range(200):
        p.set(f"pipe{i}", i)
        p.incr("pipecount")
    p.get("pipe7")
    p.mget(["pipe1", "pipe199"])
    replies = p.execute()
    check(len(replies) == 402, f"pipeline reply count {len(replies)}")
    check(replies[:4] == [True, 1, True, 2], f"pipeline first replies {replies[:4]}")
    check(replies[-2] == b"7" and replies[-1] == [b"1", b"199"], f"pipeline last replies {replies[-2:]}")
    info = r.info()
    check(info.get("redis_version") == "7.0.0", f"info redis_version {info.get('redis_version')}")
    check(info.get("tcp_port") == port, f"info tcp_port {info.get('tcp_port')}")
    check(info.get("connected_clients", 0) >= 1, "info connected_clients")
    check(r.info("keyspace").get("db0", {}).get("keys") == r.dbsize(), "info keyspace agrees with dbsize")
    check(r.dbsize() > 200, f"dbsize {r.dbsize()}")
    r.close()


def auth(port: int, password: str) -> None:
    good = redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=5)
    check(good.set("authed", "yes") is True and good.get("authed") == b"yes", "set/get with the password")
    good.close()
    # redis-py 4 raises AuthenticationError for NOAUTH, but a plain ResponseError for WRONGPASS
    # (it maps no class to that code), against Redis itself as against kvd.
    for pw, code in ((None, "NOAUTH"), ("wrong", "WRONGPASS")):
        r = redis.Redis(host="127.0.0.1", port=port, password=pw, socket_timeout=5)
        try:
            r.get("authed")
            raise AssertionError(f"{code}: GET was answered")
        except (redis.ResponseError, redis.AuthenticationError) as e:
            want = redis.AuthenticationError if code == "NOAUTH" else redis.ResponseError
            check(isinstance(e, want) and (code == "NOAUTH" or str(e).startswith(code)),
                  f"expected {code}, got {type(e).__name__}: {e}")
        finally:
            r.close()


def main(argv: list[str]) -> int:
    mode, port = argv[1], int(argv[2])
    if mode == "basic":
        basic(port)
    elif mode == "auth":
        auth(port, argv[3])
    else:
        raise SystemExit(f"unknown mode {mode}")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""RESP2 (the Redis protocol) on --resp-port, against a real kvd: the commands and their errors
in Redis's forms (and, where kvd claims Redis's bytes, compared with a real redis-server), inline
commands as nc and telnet users type them, AUTH with --auth-token, the keyspace shared with HTTP
both ways, pipelining, output backpressure, limits, protocol errors, the partial-command and idle
timeouts, graceful shutdown, metrics, several reactors, and the real tools: redis-cli,
redis-benchmark and the redis-py client library.

Python 3.11 stdlib only (redis-py runs in a helper, redis_py_client.py, under the Python that has
it). The raw RESP client is kvdtest.RespConn: a malformed reply fails the test wherever it
appears.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import threading
import time
import unittest

from kvdtest import (SANITIZED, HOST, ConnectionClosed, HttpConn, KvdTestCase, RespConn, RespError,
                     build_request, encode_command, free_port, parse_info)
from test_adversarial import proc_stat, scrape

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, where python3-redis installs `redis`

NOT_INTEGER = RespError("ERR value is not an integer or out of range")
SYNTAX = RespError("ERR syntax error")
NOAUTH = RespError("NOAUTH Authentication required.")
WRONGPASS = RespError("WRONGPASS invalid username-password pair or user is disabled.")
OOM = RespError("OOM command not allowed when used memory > 'maxmemory'.")


def arity(name: str) -> RespError:
    return RespError(f"ERR wrong number of arguments for '{name}' command")


def resp_metric(port: int, name: str, **labels: str) -> float:
    key = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    return scrape(port).get(key, 0.0)


def wait_until(cond, timeout: float = 5.0, interval: float = 0.05) -> bool:
    """Polls cond() until it holds or `timeout` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


class RespTestCase(KvdTestCase):
    resp = True

    def assertReplies(self, c: RespConn, commands: list[tuple], want: list, what: str = "") -> None:
        self.assertEqual(len(commands), len(want), "the test lists a reply per command")
        got = c.pipeline(commands)
        for i, (cmd, g, w) in enumerate(zip(commands, got, want)):
            self.assertEqual(g, w, f"{what} reply {i} to {cmd}")

    def assertClosedAfter(self, c: RespConn, what: str, timeout: float = 3.0) -> None:
        """The server closes c, and sends nothing more before it does."""
        self.assertTrue(c.wait_closed(timeout), f"{what}: connection not closed within {timeout}s")
        self.assertEqual(bytes(c.buf), b"", f"{what}: bytes after the last reply")


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

class RespCommandsTest(RespTestCase):
    kvd_flags = ["--ttl=1000s"]  # the default TTL, told apart from the EX and PX the tests set

    def test_ping_and_echo(self):
        c = self.resp_connect()
        c.send_command("PING")
        self.assertEqual(c.read_reply_raw(), ("PONG", b"+PONG\r\n"))
        self.assertEqual(c.command("PING", "hello"), b"hello")
        self.assertEqual(c.command("ECHO", bytes(range(256))), bytes(range(256)))
        self.assertEqual(c.command("ECHO", ""), b"")
        self.assertEqual(c.command("ECHO"), arity("echo"))
        self.assertEqual(c.command("PING", "a", "b"), arity("ping"))

    def test_set_get_and_options(self):
        c = self.resp_connect()
        self.assertEqual(c.command("GET", "k"), None)
        self.assertEqual(c.command("SET", "k", "v"), "OK")
        self.assertEqual(c.command("GET", "k"), b"v")
        self.assertIn(c.command("TTL", "k"), (999, 1000), "a SET without options gets --ttl")
        self.assertEqual(c.command("SET", "k", "v", "EX", 100), "OK")
        self.assertIn(c.command("TTL", "k"), (99, 100))
        self.assertEqual(c.command("SET", "k", "v", "PX", 1500), "OK")
        self.assertTrue(0 < c.command("PTTL", "k") <= 1500, "PX is milliseconds")
        # NX: only if absent; XX: only if present. A refused one answers nil and writes nothing.
        self.assertEqual(c.command("SET", "k", "other", "NX"), None)
        self.assertEqual(c.command("SET", "fresh", "x", "NX"), "OK")
        self.assertEqual(c.command("SET", "absent", "y", "XX"), None)
        self.assertEqual(c.command("EXISTS", "absent"), 0)
        self.assertEqual(c.command("SET", "k", "z", "XX"), "OK")
        self.assertEqual(c.command("GET", "k"), b"z")
        # KEEPTTL keeps the deadline EX set; without it a write takes --ttl again.
        self.assertEqual(c.command("SET", "t", "1", "EX", 100), "OK")
        self.assertEqual(c.command("SET", "t", "2", "KEEPTTL"), "OK")
        self.assertIn(c.command("TTL", "t"), (99, 100))
        self.assertEqual(c.command("GET", "t"), b"2")
        # GET: the value replaced, or nil.
        self.assertEqual(c.command("SET", "k", "new", "GET"), b"z")
        self.assertEqual(c.command("SET", "never", "v", "GET"), None)
        self.assertEqual(c.command("GET", "never"), b"v")
        self.assertEqual(c.command("SET", "k", "newer", "NX", "GET"), b"new")
        self.assertEqual(c.command("GET", "k"), b"new", "NX GET on a present key writes nothing")

    def test_set_option_errors(self):
        c = self.resp_connect()
        self.assertEqual(c.command("SET", "k", "v"), "OK")
        invalid = RespError("ERR invalid expire time in 'set' command")
        cases = [
            (("SET", "k", "x", "EX", 10, "PX", 5), SYNTAX),
            (("SET", "k", "x", "NX", "XX"), SYNTAX),
            (("SET", "k", "x", "KEEPTTL", "EX", 10), SYNTAX),
            (("SET", "k", "x", "EX"), SYNTAX),
            (("SET", "k", "x", "FOO"), SYNTAX),
            (("SET", "k", "x", "EX", 0), invalid),
            (("SET", "k", "x", "PX", -1), invalid),
            (("SET", "k", "x", "EX", 2073601), invalid),  # kvd's bound: 24 days
            (("SET", "k", "x", "EX", "abc"), NOT_INTEGER),
            (("SET", "k", "x", "PX", "1.5"), NOT_INTEGER),
            (("SET", "k", "x", "EXAT", 99999999999),
             RespError("ERR EXAT and PXAT are not supported: kvd expiry times are relative to the write")),
            (("SET", "k"), arity("set")),
        ]
        self.assertReplies(c, [cmd for cmd, _ in cases], [want for _, want in cases])
        self.assertEqual(c.command("GET", "k"), b"v", "a refused SET wrote")

    def test_del_and_exists_count_keys(self):
        c = self.resp_connect()
        self.assertReplies(c, [("SET", "a", 1), ("SET", "b", 2), ("EXISTS", "a", "a", "b", "c"),
                               ("DEL", "a", "a", "b", "c"), ("EXISTS", "a", "b"), ("SET", "a", 1),
                               ("UNLINK", "a", "nope"), ("DEL",), ("EXISTS",)],
                           ["OK", "OK", 3, 2, 0, "OK", 1, arity("del"), arity("exists")])

    def test_expire_ttl_and_persist(self):
        c = self.resp_connect()
        self.assertEqual(c.command("TTL", "nokey"), -2)
        self.assertEqual(c.command("PTTL", "nokey"), -2)
        self.assertEqual(c.command("SET", "k", "v"), "OK")
        self.assertGreater(c.command("TTL", "k"), 0, "every kvd key expires: TTL is never -1")
        self.assertEqual(c.command("EXPIRE", "k", 50), 1)
        self.assertIn(c.command("TTL", "k"), (49, 50))
        self.assertEqual(c.command("PEXPIRE", "k", 2500), 1)
        self.assertTrue(2000 < c.command("PTTL", "k") <= 2500)
        self.assertEqual(c.command("EXPIRE", "nokey", 10), 0)
        self.assertEqual(c.command("PERSIST", "k"),
                         RespError("ERR PERSIST is not supported: every kvd key expires"))
        self.assertTrue(0 < c.command("PTTL", "k") <= 2500, "PERSIST changed the TTL")
        self.assertEqual(c.command("EXPIRE", "k", 0), 1, "a deadline in the past deletes")
        self.assertEqual(c.command("EXISTS", "k"), 0)
        # A deadline is honoured.
        self.assertEqual(c.command("SET", "short", "v", "PX", 150), "OK")
        self.assertTrue(wait_until(lambda: c.command("GET", "short") is None, 5.0),
                        "a key with PX 150 was still served 5 s later")
        self.assertEqual(c.command("TTL", "short"), -2)

    def test_counters(self):
        c = self.resp_connect()
        self.assertReplies(c, [("INCR", "n"), ("INCRBY", "n", 41), ("DECR", "n"), ("DECRBY", "n", 50),
                               ("GET", "n")],
                           [1, 42, 41, -9, b"-9"])
        overflow = RespError("ERR increment or decrement would overflow")
        self.assertReplies(c, [("INCRBY", "big", 9223372036854775807), ("INCR", "big"), ("GET", "big"),
                               ("DECRBY", "x", -9223372036854775808), ("SET", "s", "abc"),
                               ("INCR", "s"), ("GET", "s"), ("INCRBY", "n", "1.5"),
                               ("INCRBY", "n", "abc"), ("INCR",), ("GET", "n")],
                           [9223372036854775807, overflow, b"9223372036854775807",
                            RespError("ERR decrement would overflow"), "OK", NOT_INTEGER, b"abc",
                            NOT_INTEGER, NOT_INTEGER, arity("incr"), b"-9"])

    def test_mget_mset_dbsize(self):
        c = self.resp_connect()
        self.assertReplies(c, [("DBSIZE",), ("MSET", "a", 1, "b", 2, "c", 3), ("MGET", "a", "nope", "c"),
                               ("DBSIZE",), ("MSET", "a"), ("MSET", "a", 1, "b"), ("MGET",),
                               ("DBSIZE", "x")],
                           [0, "OK", [b"1", None, b"3"], 3, arity("mset"), arity("mset"),
                            arity("mget"), arity("dbsize")])
        self.assertEqual(c.command("DBSIZE"), 3, "a refused MSET wrote")

    def test_info_sections_parse_as_name_value(self):
        c = self.resp_connect()
        other = self.resp_connect()
        self.assertEqual(other.command("PING"), "PONG")
        for k in ("a", "b", "c"):
            self.assertEqual(c.command("SET", k, "v"), "OK")
        info = parse_info(c.command("INFO"))
        for s in ("Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "Keyspace"):
            self.assertIn(s, info, f"INFO without its {s} section")
        self.assertNotIn("Commandstats", info, "commandstats is not a default section")
        self.assertEqual(info["Server"]["redis_version"], "7.0.0")
        self.assertEqual(info["Server"]["tcp_port"], str(self.resp_port))
        self.assertEqual(info["Server"]["process_id"], str(self.kvd.pid()))
        self.assertEqual(info["Clients"]["connected_clients"], "2")
        self.assertEqual(info["Keyspace"]["db0"], "keys=3,expires=3,avg_ttl=0")
        self.assertTrue(info["Memory"]["used_memory"].isdigit())
        only = parse_info(c.command("INFO", "server"))
        self.assertEqual(list(only), ["Server"])
        stats = parse_info(c.command("INFO", "commandstats"))["Commandstats"]
        self.assertEqual(stats["cmdstat_set"], "calls=3,rejected_calls=0,failed_calls=0")

    def test_command_count_and_table(self):
        c = self.resp_connect()
        n = c.command("COMMAND", "COUNT")
        table = c.command("COMMAND")
        self.assertIsInstance(n, int)
        self.assertEqual(len(table), n)
        names = {entry[0] for entry in table}
        self.assertLessEqual({b"get", b"set", b"del", b"incr", b"mget", b"mset", b"expire", b"ttl",
                              b"hello", b"auth", b"quit", b"info", b"command", b"client"}, names)
        get = c.command("COMMAND", "INFO", "get", "nosuch")
        self.assertEqual(get[0][:2], [b"get", 2])
        self.assertEqual(get[0][3:6], [1, 1, 1], "GET's key positions")
        self.assertIsNone(get[1])

    def test_select(self):
        c = self.resp_connect()
        out_of_range = RespError("ERR DB index is out of range")
        self.assertReplies(c, [("SELECT", 0), ("SELECT", 1), ("SELECT", 15), ("SELECT", "abc"), ("SELECT",),
                               ("PING",)],
                           ["OK", out_of_range, out_of_range, NOT_INTEGER, arity("select"), "PONG"])

    def test_hello_2_and_3(self):
        c = self.resp_connect()
        reply = c.command("HELLO", 2)
        self.assertIsInstance(reply, list)
        hello = dict(zip(reply[::2], reply[1::2]))
        self.assertEqual(hello[b"server"], b"redis")
        self.assertEqual(hello[b"version"], b"7.0.0")
        self.assertEqual(hello[b"proto"], 2)
        self.assertEqual(hello[b"id"], c.command("CLIENT", "ID"))
        self.assertEqual((hello[b"mode"], hello[b"role"], hello[b"modules"]), (b"standalone", b"master", []))
        # RESP3 is refused, and the connection goes on in RESP2.
        c.send_command("HELLO", 3)
        self.assertEqual(c.read_reply_raw()[1], b"-NOPROTO unsupported protocol version\r\n")
        self.assertEqual(c.command("PING"), "PONG")
        self.assertEqual(c.command("HELLO"), reply)
        self.assertEqual(c.command("HELLO", 2, "SETNAME", "me")[:2], [b"server", b"redis"])
        self.assertEqual(c.command("CLIENT", "GETNAME"), b"me")

    def test_client_setname_getname(self):
        c, d = self.resp_connect(), self.resp_connect()
        self.assertEqual(c.command("CLIENT", "GETNAME"), None)
        self.assertEqual(c.command("CLIENT", "SETNAME", "app1"), "OK")
        self.assertEqual(c.command("CLIENT", "GETNAME"), b"app1")
        self.assertEqual(d.command("CLIENT", "GETNAME"), None, "a name belongs to its connection")
        self.assertEqual(c.command("CLIENT", "SETNAME", "a b"),
                         RespError("ERR Client names cannot contain spaces, newlines or special characters."))
        self.assertEqual(c.command("CLIENT", "GETNAME"), b"app1")
        self.assertIn(b" name=app1 ", c.command("CLIENT", "INFO"))
        self.assertNotEqual(c.command("CLIENT", "ID"), d.command("CLIENT", "ID"))

    def test_quit_answers_ok_and_runs_nothing_after_it(self):
        c = self.resp_connect()
        c.send(encode_command("SET", "before", 1) + encode_command("QUIT")
               + encode_command("SET", "after", 1) + encode_command("GET", "before"))
        self.assertEqual(c.read_reply(), "OK")
        self.assertEqual(c.read_reply_raw(), ("OK", b"+OK\r\n"))
        self.assertClosedAfter(c, "after QUIT")
        inline = self.resp_connect()
        inline.send(b"QUIT\r\nSET after 2\r\n")
        self.assertEqual(inline.read_reply(), "OK")
        self.assertClosedAfter(inline, "after an inline QUIT")
        check = self.resp_connect()
        self.assertEqual(check.command("GET", "after"), None, "a command pipelined after QUIT ran")
        self.assertEqual(check.command("GET", "before"), b"1")

    def test_unknown_command_and_wrong_arity_in_redis_forms(self):
        c = self.resp_connect()
        want = [
            (("FOO",), b"-ERR unknown command 'FOO', with args beginning with: \r\n"),
            (("foo", "a", "b"), b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"),
            (("GET",), b"-ERR wrong number of arguments for 'get' command\r\n"),
            (("get", "a", "b"), b"-ERR wrong number of arguments for 'get' command\r\n"),
            (("CLIENT", "NOPE"), b"-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n"),
            (("MULTI",), b"-ERR unknown command 'MULTI', with args beginning with: \r\n"),
        ]
        for cmd, raw in want:
            c.send_command(*cmd)
            self.assertEqual(c.read_reply_raw()[1], raw, f"{cmd}")
        self.assertEqual(c.command("PING"), "PONG", "an error reply closed the connection")

    def test_inline_commands_as_nc_sends_them(self):
        c = self.resp_connect()
        c.send(b"PING\r\n")
        self.assertEqual(c.read_reply_raw()[1], b"+PONG\r\n")
        c.send(b"PING\n")  # nc and most terminals send a bare LF
        self.assertEqual(c.read_reply(), "PONG")
        c.send(b'SET greeting "hello world"\r\nGET greeting\n')
        self.assertEqual([c.read_reply(), c.read_reply()], ["OK", b"hello world"])
        c.send(b"SET q 'it\\'s'\r\nGET q\r\n")
        self.assertEqual([c.read_reply(), c.read_reply()], ["OK", b"it's"])
        c.send(b'SET h "\\x41\\x42\\n\\t\\"end"\r\nGET h\r\n')
        self.assertEqual([c.read_reply(), c.read_reply()], ["OK", b'AB\n\t"end'])
        c.send(b"\r\n   \r\n\t\n  get   q  \r\n")  # blank lines run nothing
        self.assertEqual(c.read_reply(), b"it's")
        c.send(b"ECHO one\r\n" + encode_command("ECHO", "two") + b"ECHO three\r\n")
        self.assertEqual([c.read_reply() for _ in range(3)], [b"one", b"two", b"three"])
        self.assertFalse(c.buf, "more replies than commands")
        c.send(b'SET k "abc\r\nPING\r\n')
        self.assertEqual(c.read_reply(), RespError("ERR Protocol error: unbalanced quotes in request"))
        self.assertClosedAfter(c, "after unbalanced quotes")


@unittest.skipUnless(shutil.which("redis-server"), "redis-server is not installed (apt-get install redis-server)")
class RespSameBytesAsRedisTest(RespTestCase):
    """The replies kvd claims are Redis's, byte for byte against redis-server itself."""

    def setUp(self):
        super().setUp()
        self.redis_port = free_port()
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", HOST, "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", "--databases", "1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self._stop_redis)
        deadline = time.monotonic() + 5
        while True:
            try:
                self.rc = RespConn(self.redis_port)
                break
            except OSError:
                if time.monotonic() > deadline or self.redis.poll() is not None:
                    self.fail("redis-server did not start")
                time.sleep(0.05)
        self.addCleanup(self.rc.close)

    def _stop_redis(self) -> None:
        if self.redis.poll() is None:
            os.kill(self.redis.pid, signal.SIGTERM)
            try:
                self.redis.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.redis.pid, signal.SIGKILL)
                self.redis.wait(5)

    def test_replies_match_redis_server(self):
        commands = [
            ("PING",), ("PING", "x"), ("PING", "a", "b"), ("ECHO", "e\x00\r\n"), ("ECHO",),
            ("SET", "k", "v"), ("GET", "k"), ("GET", "nokey"), ("GET",), ("SET", "k"),
            ("SET", "k", "v", "NX"), ("SET", "k", "v2", "XX"), ("SET", "n", "v", "XX"),
            ("SET", "k", "v3", "GET"), ("SET", "k", "v", "EX", 10, "PX", 5), ("SET", "k", "v", "NX", "XX"),
            ("SET", "k", "v", "EX", 0), ("SET", "k", "v", "EX", "abc"), ("SET", "k", "v", "FOO"),
            ("SET", "k", "v", "KEEPTTL", "EX", 10), ("SET", "k", "v", "EX", 100), ("TTL", "k"),
            ("TTL", "nokey"), ("PTTL", "nokey"), ("EXPIRE", "nokey", 10), ("EXPIRE", "k", 10, "NX", "XX"),
            ("EXPIRE", "k", 10, "GT", "LT"), ("EXPIRE", "k", 10, "FOO"), ("EXPIRE", "k", "abc"),
            ("DEL", "a", "k", "k"), ("EXISTS", "k"), ("MSET", "a", 1, "b", 2), ("MGET", "a", "x", "b"),
            ("MSET", "a"), ("EXISTS", "a", "a", "b"), ("INCR", "n"), ("INCRBY", "n", 9223372036854775806),
            ("INCR", "n"), ("INCRBY", "n", "1.5"), ("DECRBY", "x", -9223372036854775808), ("INCR", "a", "b"),
            ("SELECT", 0), ("SELECT", 1), ("SELECT", "x"), ("DBSIZE",), ("DBSIZE", "x"),
            ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "a b"), ("CLIENT", "SETNAME", "ok"),
            ("CLIENT", "GETNAME"), ("CLIENT", "NOPE"), ("HELLO", "x"), ("HELLO", 2, "FOO"),
            ("AUTH", "pw"), ("FOO", "a", "b"), ("foo",), ("GET", "a", "b", "c"), ("DEL",),
            ("QUIT",),
        ]
        kvd = self.resp_connect()
        data = b"".join(encode_command(*c) for c in commands)
        kvd.send(data)
        self.rc.send(data)
        for cmd in commands:
            theirs = self.rc.read_reply_raw()[1]
            ours = kvd.read_reply_raw()[1]
            self.assertEqual(ours, theirs, f"{cmd}: kvd and redis-server differ")
        self.assertClosedAfter(kvd, "after QUIT")


# --------------------------------------------------------------------------------------------
# Authentication
# --------------------------------------------------------------------------------------------

class RespAuthTest(RespTestCase):
    kvd_flags = ["--auth-token=s3cret"]

    def test_noauth_then_wrongpass_then_auth_works(self):
        c = self.resp_connect()
        self.assertReplies(c, [("GET", "k"), ("SET", "k", "early"), ("PING",), ("AUTH", "wrong"),
                               ("GET", "k"), ("AUTH", "s3cret"), ("GET", "k"), ("SET", "k", "v"), ("GET", "k")],
                           [NOAUTH, NOAUTH, NOAUTH, WRONGPASS, NOAUTH, "OK", None, "OK", b"v"])
        named = self.resp_connect()
        self.assertEqual(named.command("AUTH", "default", "s3cret"), "OK")
        self.assertEqual(named.command("GET", "k"), b"v")
        hello = self.resp_connect()
        self.assertEqual(hello.command("HELLO", 2, "AUTH", "default", "s3cret")[:2], [b"server", b"redis"])
        self.assertEqual(hello.command("GET", "k"), b"v")
        quitter = self.resp_connect()
        self.assertEqual(quitter.command("QUIT"), "OK", "QUIT needs no authentication")
        self.assertClosedAfter(quitter, "after QUIT")

    def test_hello_without_auth_is_refused(self):
        c = self.resp_connect()
        reply = c.command("HELLO", 2)
        self.assertIsInstance(reply, RespError)
        self.assertTrue(reply.message.startswith("NOAUTH HELLO must be called with the client already authenticated"),
                        reply)
        self.assertEqual(c.command("GET", "k"), NOAUTH)

    def test_http_still_needs_its_bearer_token(self):
        c = self.resp_connect()
        self.assertEqual(c.command("AUTH", "s3cret"), "OK")
        self.assertEqual(c.command("SET", "shared", "from-resp"), "OK")
        self.assertStatus(self.request("GET", "/shared"), 401)
        r = self.request("GET", "/shared", headers=[("Authorization", "Bearer s3cret")])
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"from-resp")

    def test_unauthenticated_clients_cannot_send_much(self):
        # Redis's pre-AUTH bounds: more than 10 arguments, or a bulk string over 16 KiB, is a
        # protocol error before AUTH (so an unauthenticated client cannot make kvd hold much).
        many = self.resp_connect()
        many.send_command("MSET", *["x"] * 10)
        self.assertEqual(many.read_reply(), RespError("ERR Protocol error: unauthenticated multibulk length"))
        self.assertClosedAfter(many, "11 arguments before AUTH")
        big = self.resp_connect()
        big.send(b"*2\r\n$4\r\nAUTH\r\n$16385\r\n")
        self.assertEqual(big.read_reply(), RespError("ERR Protocol error: unauthenticated bulk length"))
        self.assertClosedAfter(big, "a 16 KiB + 1 bulk before AUTH")
        authed = self.resp_connect()
        self.assertEqual(authed.command("AUTH", "s3cret"), "OK")
        self.assertEqual(authed.command("MSET", *["x", "y"] * 6), "OK")
        self.assertEqual(authed.command("SET", "big", b"b" * 20000), "OK")
        self.assertEqual(len(authed.command("GET", "big")), 20000)

    @unittest.skipUnless(shutil.which("redis-cli"), "redis-cli is not installed (apt-get install redis-tools)")
    def test_redis_cli_with_password(self):
        base = ["redis-cli", "-h", HOST, "-p", str(self.resp_port)]
        p = subprocess.run(base + ["SET", "cli", "1"], capture_output=True, timeout=20)
        self.assertEqual(p.stdout, b"NOAUTH Authentication required.\n\n")
        p = subprocess.run(base + ["-a", "s3cret", "--no-auth-warning", "SET", "cli", "1"],
                           capture_output=True, timeout=20)
        self.assertEqual((p.returncode, p.stdout), (0, b"OK\n"), p.stderr)
        p = subprocess.run(base + ["-a", "s3cret", "--no-auth-warning", "GET", "cli"], capture_output=True, timeout=20)
        self.assertEqual(p.stdout, b"1\n")

    def test_redis_py_with_password(self):
        run_redis_py(self, "auth", self.resp_port, "s3cret")


# --------------------------------------------------------------------------------------------
# One keyspace for both protocols
# --------------------------------------------------------------------------------------------

class RespSharedKeyspaceTest(RespTestCase):
    kvd_flags = ["--ttl=1000s"]

    def test_resp_writes_http_reads_and_back(self):
        c = self.resp_connect()
        self.assertEqual(c.command("SET", "k1", "v1"), "OK")
        r = self.get("/k1")
        self.assertEqual((r.status, r.body), (200, b"v1"))
        self.assertStatus(self.put("/k2", b"v2"), 200)
        self.assertEqual(c.command("GET", "k2"), b"v2")
        binary = bytes(range(256)) + b"\r\n\x00"
        self.assertEqual(c.command("SET", "bin", binary), "OK")
        self.assertEqual(self.get("/bin").body, binary)
        self.assertStatus(self.put("/bin2", binary[::-1]), 200)
        self.assertEqual(c.command("GET", "bin2"), binary[::-1])
        # The HTTP key is the percent-decoded path after its '/'.
        self.assertStatus(self.put("/sp%20ace", b"s"), 200)
        self.assertEqual(c.command("GET", "sp ace"), b"s")
        self.assertEqual(c.command("SET", "a/b", "slash"), "OK")
        self.assertEqual(self.get("/a/b").body, b"slash")
        self.assertEqual(c.command("DBSIZE"), self.size())
        # Deletes, both ways.
        self.assertEqual(c.command("DEL", "k1"), 1)
        self.assertEqual(self.get("/k1").body, b"")
        self.assertStatus(self.request("DELETE", "/k2"), 204)
        self.assertEqual(c.command("EXISTS", "k2"), 0)
        self.assertEqual(c.command("DBSIZE"), self.size())

    def test_ttls_agree(self):
        c = self.resp_connect()
        self.assertStatus(self.request("POST", "/h?ttl=50s", b"v"), 200)
        self.assertIn(c.command("TTL", "h"), (49, 50))
        self.assertStatus(self.put("/default", b"v"), 200)
        self.assertEqual(c.command("SET", "resp-default", "v"), "OK")
        self.assertIn(c.command("TTL", "default"), (999, 1000), "HTTP's default TTL is --ttl")
        self.assertIn(c.command("TTL", "resp-default"), (999, 1000))
        # A deadline set on either side ends the key for both.
        self.assertStatus(self.request("POST", "/soon?ttl=500ms", b"v"), 200)
        self.assertTrue(0 < c.command("PTTL", "soon") <= 500)
        self.assertEqual(c.command("SET", "resp-soon", "v", "PX", 500), "OK")
        self.assertEqual(self.get("/resp-soon").body, b"v")
        self.assertTrue(wait_until(lambda: self.get("/resp-soon").body == b"" and c.command("GET", "soon") is None),
                        "keys with a 500 ms TTL were still served 5 s later")
        self.assertEqual([c.command("PTTL", "soon"), c.command("PTTL", "resp-soon")], [-2, -2])

    def test_http_incr_and_resp_incr_on_one_counter(self):
        c = self.resp_connect()
        self.assertEqual(self.request("POST", "/c?incr=5").body, b"5")
        self.assertEqual(c.command("INCR", "c"), 6)
        self.assertEqual(self.request("POST", "/c?incr").body, b"7")
        self.assertEqual(c.command("INCRBY", "c", 10), 17)
        self.assertEqual(c.command("DECR", "c"), 16)
        self.assertEqual(self.get("/c").body, b"16")
        # Concurrent increments through both protocols: none is lost.
        errors: list[str] = []

        def http_side() -> None:
            with HttpConn(self.port) as h:
                for _ in range(200):
                    r = h.request("POST", "/c?incr")
                    if r.status != 200:
                        errors.append(f"HTTP {r.status}")

        t = threading.Thread(target=http_side)
        t.start()
        replies = c.pipeline([("INCR", "c")] * 200)
        t.join(20)
        self.assertEqual(errors, [])
        self.assertTrue(all(isinstance(v, int) for v in replies), replies[:5])
        self.assertEqual(c.command("GET", "c"), b"416")
        # The same rule for what is not an integer.
        self.assertEqual(c.command("SET", "c", "abc"), "OK")
        self.assertStatus(self.request("POST", "/c?incr"), 409)
        self.assertStatus(self.put("/d", b"1.5"), 200)
        self.assertEqual(c.command("INCR", "d"), NOT_INTEGER)

    def test_etag_changes_when_resp_writes(self):
        c = self.resp_connect()
        self.assertStatus(self.put("/e", b"v1"), 200)
        tag1 = self.get("/e").header("ETag")
        self.assertIsNotNone(tag1)
        self.assertEqual(c.command("GET", "e"), b"v1")
        self.assertEqual(self.get("/e").header("ETag"), tag1, "a RESP read changed the ETag")
        self.assertEqual(c.command("SET", "e", "v2"), "OK")
        r = self.get("/e")
        self.assertEqual(r.body, b"v2")
        tag2 = r.header("ETag")
        self.assertNotEqual(tag2, tag1, "a RESP SET kept the ETag")
        self.assertStatus(self.request("GET", "/e", headers=[("If-None-Match", tag1)]), 200)
        self.assertStatus(self.request("GET", "/e", headers=[("If-None-Match", tag2)]), 304)
        # A compare-and-set on the old tag loses to the RESP write.
        self.assertStatus(self.request("POST", "/e", b"cas", headers=[("If-Match", tag1)]), 412)
        self.assertEqual(c.command("SET", "e", "1"), "OK")
        tag3 = self.get("/e").header("ETag")
        self.assertEqual(c.command("INCR", "e"), 2)
        self.assertNotIn(self.get("/e").header("ETag"), (tag1, tag2, tag3), "INCR kept the ETag")


# --------------------------------------------------------------------------------------------
# Pipelining and backpressure
# --------------------------------------------------------------------------------------------

def mixed_commands(n: int, seed: int) -> tuple[list[tuple], list]:
    """n commands over 50 keys and a counter, and their replies, simulated from an empty store."""
    rnd = random.Random(seed)
    store: dict[str, bytes] = {}
    count = 0
    commands, replies = [], []
    for i in range(n):
        k = f"p{rnd.randrange(50)}"
        op = rnd.random()
        if op < 0.3:
            v = b"v%d-" % i + bytes(rnd.randrange(256) for _ in range(rnd.randrange(40)))
            commands.append(("SET", k, v))
            replies.append("OK")
            store[k] = v
        elif op < 0.6:
            commands.append(("GET", k))
            replies.append(store.get(k))
        elif op < 0.75:
            count += 1
            commands.append(("INCR", "count"))
            replies.append(count)
        elif op < 0.85:
            commands.append(("ECHO", str(i)))
            replies.append(str(i).encode())
        elif op < 0.95:
            commands.append(("EXISTS", k, "nope"))
            replies.append(int(k in store))
        else:
            commands.append(("DEL", k))
            replies.append(int(store.pop(k, None) is not None))
    return commands, replies


class RespPipelineTest(RespTestCase):
    # One reactor: the other clients of the backpressure test share the hog's.
    kvd_flags = ["--threads=1", "--ttl=1000s", "--max-output-bytes=1M"]

    def test_1000_commands_in_one_write_answered_in_order(self):
        commands, want = mixed_commands(1000, seed=1)
        c = self.resp_connect()
        self.assertReplies(c, commands, want, "1000 pipelined:")
        self.assertFalse(c.buf, "bytes after the last reply")

    def test_commands_split_at_random_points(self):
        commands, want = mixed_commands(400, seed=2)
        data = b"".join(encode_command(*cmd) for cmd in commands)
        rnd = random.Random(2)
        c = self.resp_connect()
        pos = 0
        while pos < len(data):
            n = rnd.choice([1, 2, 3, 5, 8, 13, 100, 700])
            c.send(data[pos:pos + n])
            pos += n
            if rnd.random() < 0.05:
                time.sleep(0.002)  # let kvd read what it has: the next piece lands in another read
        got = [c.read_reply() for _ in commands]
        for i, (g, w) in enumerate(zip(got, want)):
            self.assertEqual(g, w, f"reply {i} to {commands[i]}")

    def test_a_client_that_never_reads_is_held_to_bounded_memory(self):
        c = self.resp_connect()
        big = os.urandom(16 << 10)
        self.assertEqual(c.command("SET", "big", big), "OK")
        buffers0 = scrape(self.port)["kvd_connection_buffer_bytes"]
        _, rss0 = proc_stat(self.kvd.pid())
        # 1,000,000 commands asking for 8 GB of replies, in one stream that is never read.
        block = b"".join(encode_command("GET", "big") + encode_command("ECHO", str(i)) for i in range(1000))
        data = block * 500
        hog = self.resp_connect(rcvbuf=64 << 10)
        hog.sock.setblocking(False)
        sent, stuck_since = 0, None
        deadline = time.monotonic() + 10
        while sent < len(data) and time.monotonic() < deadline:
            try:
                sent += hog.sock.send(data[sent:sent + (1 << 20)])
                stuck_since = None
            except BlockingIOError:
                stuck_since = stuck_since or time.monotonic()
                if time.monotonic() - stuck_since > 0.5:
                    break  # kvd has stopped reading and the socket buffers are full
                time.sleep(0.01)
        self.assertLess(sent, len(data), f"kvd read all {len(data) >> 20} MiB of commands from a client that reads nothing")
        buffers = scrape(self.port)["kvd_connection_buffer_bytes"]
        _, rss = proc_stat(self.kvd.pid())
        # Held: about --max-output-bytes (1 MiB) of replies, one read and the parser's bytes.
        self.assertLess(buffers - buffers0, 4 << 20, f"connection buffers grew by {buffers - buffers0:.0f} bytes")
        if not SANITIZED:
            self.assertLess(rss - rss0, 48 << 20, f"kvd grew by {(rss - rss0) >> 20} MiB")
        # Its reactor, the only one, is not held up by it.
        self.assertEqual(c.command("SET", "other", "fine"), "OK")
        self.assertEqual(c.command("GET", "other"), b"fine")
        self.assertStatus(self.request("GET", "/healthz"), 200)
        # Pausing lost nothing: once the hog reads, its replies are there, in order.
        hog.sock.settimeout(5.0)
        for i in range(3000):
            self.assertEqual(hog.read_reply(), big, f"GET #{i}")
            self.assertEqual(hog.read_reply(), str(i % 1000).encode(), f"ECHO #{i}")
        hog.close()
        self.assertTrue(wait_until(lambda: resp_metric(self.port, "kvd_connections_open", protocol="resp") == 1),
                        "the hog's connection is still counted open")
        self.assertLess(scrape(self.port)["kvd_connection_buffer_bytes"] - buffers0, 256 << 10,
                        "the hog's buffers were not given back when it closed")


# --------------------------------------------------------------------------------------------
# Limits and protocol errors
# --------------------------------------------------------------------------------------------

class RespLimitsTest(RespTestCase):
    kvd_flags = ["--max-key-bytes=16", "--max-value-bytes=1000"]

    def test_key_and_value_limits_are_clear_errors(self):
        c = self.resp_connect()
        key_error = RespError("ERR invalid key: kvd keys are 1 to 16 bytes")
        value_error = RespError("ERR value too large: kvd values are at most 1000 bytes")
        self.assertReplies(c, [("SET", "k" * 16, "v"), ("SET", "k" * 17, "v"), ("GET", "k" * 17), ("SET", "", "v"),
                               ("SET", "k", b"x" * 1000), ("SET", "k", b"y" * 1001), ("SET", "k", b"y" * 2000),
                               ("MSET", "m", "1", "k", b"y" * 1001), ("GET", "m"), ("GET", "k" * 16)],
                           ["OK", key_error, key_error, key_error, "OK", value_error, value_error,
                            value_error, None, b"v"])
        self.assertEqual(c.command("GET", "k"), b"x" * 1000, "a refused value replaced the old one")

    def test_bulk_length_over_the_limit_is_a_protocol_error(self):
        c = self.resp_connect()
        self.assertEqual(c.command("SET", "k", "old"), "OK")
        # Only the header: the length alone is refused, before any of its bytes are sent.
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n")
        self.assertEqual(c.read_reply(), RespError("ERR Protocol error: invalid bulk length"))
        self.assertClosedAfter(c, "after a bulk length over the limit")
        d = self.resp_connect()
        d.try_send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n" + b"v" * 100000 + b"\r\n"
                   + encode_command("SET", "smuggled", 1))
        self.assertEqual(d.read_reply(), RespError("ERR Protocol error: invalid bulk length"))
        self.assertClosedAfter(d, "after a bulk length over the limit, with its bytes")
        check = self.resp_connect()
        self.assertEqual(check.pipeline([("GET", "k"), ("GET", "smuggled")]), [b"old", None])


class RespMemoryTest(RespTestCase):
    kvd_flags = ["--threads=1", "--max-memory=2M", "--max-value-bytes=4M"]

    def test_oom_when_a_value_cannot_fit_and_the_old_value_stays(self):
        c = self.resp_connect()
        huge = b"h" * (3 << 20)
        self.assertReplies(c, [("SET", "k", "old"), ("SET", "k", huge), ("SET", "k", huge, "GET"),
                               ("MSET", "k", huge), ("GET", "k"), ("SET", "k", b"fits" * 1000), ("STRLEN", "k")],
                           ["OK", OOM, OOM, OOM, b"old", "OK",
                            RespError("ERR unknown command 'STRLEN', with args beginning with: 'k' ")])
        self.assertStatus(self.put("/k", huge), 507)
        self.assertEqual(c.command("GET", "k"), b"fits" * 1000)
        self.assertGreaterEqual(scrape(self.port)["kvd_writes_refused_total"], 4)


# Framing errors: (name, bytes, the error answered). Each is sent after a good command and before
# one that must never run.
PROTOCOL_ERRORS = [
    ("count not a number", b"*abc\r\n", "ERR Protocol error: invalid multibulk length"),
    ("count with a leading zero", b"*01\r\n", "ERR Protocol error: invalid multibulk length"),
    ("count over the argument limit", b"*99999999999\r\n", "ERR Protocol error: invalid multibulk length"),
    ("bare LF after the count", b"*1\n$4\r\nPING\r\n", "ERR Protocol error: invalid multibulk length"),
    ("negative bulk length", b"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"),
    ("bulk length not a number", b"*1\r\n$x\r\n", "ERR Protocol error: invalid bulk length"),
    ("not a bulk string in a multibulk", b"*2\r\n$3\r\nGET\r\n+k\r\n", "ERR Protocol error: expected '$', got '+'"),
    ("bulk data longer than its length", b"*1\r\n$4\r\nPINGxx\r\n", "ERR Protocol error: expected CRLF after bulk string"),
    ("unbalanced double quote", b'SET k "abc\r\n', "ERR Protocol error: unbalanced quotes in request"),
    ("closing quote followed by a byte", b"SET k 'abc'def\r\n", "ERR Protocol error: unbalanced quotes in request"),
    ("inline line over 64 KiB", b"SET k " + b"A" * 70000, "ERR Protocol error: too big inline request"),
]


class RespProtocolErrorTest(RespTestCase):

    def test_framing_errors_are_answered_then_closed(self):
        for name, raw, message in PROTOCOL_ERRORS:
            with self.subTest(case=name):
                c = self.resp_connect()
                c.try_send(encode_command("SET", "before", name) + raw + encode_command("SET", "smuggled", name))
                self.assertEqual(c.read_reply(), "OK", f"{name}: the command before it")
                self.assertEqual(c.read_reply(), RespError(message), name)
                self.assertClosedAfter(c, name)
                c.close()
                check = self.resp_connect()
                self.assertEqual(check.pipeline([("GET", "before"), ("GET", "smuggled")]),
                                 [name.encode(), None], f"{name}: what ran")
                check.close()
        self.assertEqual(resp_metric(self.port, "kvd_connections_closed_total", protocol="resp", reason="bad_input"),
                         len(PROTOCOL_ERRORS))


# --------------------------------------------------------------------------------------------
# Timeouts
# --------------------------------------------------------------------------------------------

class RespPartialCommandTimeoutTest(RespTestCase):
    # The sweep runs once a second, so a gap of 1.6 s always meets one more than 0.5 s into it;
    # the idle timeout is far away, so a close within a few seconds is the partial-command one.
    kvd_flags = ["--header-timeout=500ms", "--idle-timeout=30s"]

    def test_a_command_whose_framing_stops_is_closed(self):
        multibulk = self.resp_connect()
        multibulk.send(b"*2\r\n$3\r\nGET\r\n$")
        inline = self.resp_connect()
        inline.send(b"GET k")
        between = self.resp_connect()
        self.assertEqual(between.command("PING"), "PONG")
        self.assertClosedAfter(multibulk, "a multibulk stopped mid-header", timeout=5)
        self.assertClosedAfter(inline, "an inline command without its line end", timeout=5)
        # A connection idle between commands is not in a command: the timeout does not apply.
        self.assertEqual(between.command("PING"), "PONG")
        self.assertEqual(resp_metric(self.port, "kvd_connections_closed_total", protocol="resp", reason="timeout"), 2)

    def test_a_slow_but_steady_payload_is_not_cut(self):
        c = self.resp_connect()
        value = b"0123456789" * 3
        c.send(b"*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$30\r\n" + value[:10])
        time.sleep(1.6)
        c.send(value[10:20])
        time.sleep(1.6)
        c.send(value[20:] + b"\r\n")
        self.assertEqual(c.read_reply(), "OK")
        self.assertEqual(c.command("GET", "slow"), value)


class RespIdleTimeoutTest(RespTestCase):
    # The partial-command timeout is far away: a close within a few seconds is the idle one.
    kvd_flags = ["--idle-timeout=1s", "--header-timeout=30s"]

    def test_idle_connections_are_closed(self):
        used = self.resp_connect()
        self.assertEqual(used.command("SET", "k", "v"), "OK")
        silent = self.resp_connect()
        self.assertClosedAfter(used, "a connection idle after a command", timeout=5)
        self.assertClosedAfter(silent, "a connection that never sent", timeout=5)
        self.assertEqual(self.resp_connect().command("GET", "k"), b"v")


# --------------------------------------------------------------------------------------------
# Shutdown, metrics, several reactors
# --------------------------------------------------------------------------------------------

class RespShutdownTest(RespTestCase):
    kvd_flags = ["--threads=2"]

    def test_sigterm_answers_every_received_command_then_exits_0(self):
        big = os.urandom(200 << 10)
        self.assertEqual(self.resp_connect().command("SET", "big", big), "OK")
        conns = [self.resp_connect() for _ in range(4)]
        http = self.connect()
        # Stopped, kvd reads nothing: what the clients send now is received (it waits in kvd's
        # socket buffers) but not read when SIGTERM arrives. The 2 MB of GET replies on each
        # connection are more than the socket buffers hold, so kvd is still writing them while it
        # shuts down.
        pid = self.kvd.pid()
        os.kill(pid, signal.SIGSTOP)
        self.addCleanup(lambda: self.kvd.alive() and os.kill(pid, signal.SIGCONT))
        self.assertTrue(wait_until(lambda: process_state(pid) == "T", 5.0), "kvd did not stop")
        expected = []
        for n, c in enumerate(conns):
            commands, want = [], []
            for i in range(1000):
                commands += [("SET", f"s{n}:{i}", i), ("GET", f"s{n}:{i}")]
                want += ["OK", str(i).encode()]
            commands += [("GET", "big")] * 10
            want += [big] * 10
            c.send(b"".join(encode_command(*cmd) for cmd in commands))
            expected.append(want)
        http.send(b"".join(build_request("GET", "/healthz") for _ in range(100)))
        self.kvd.signal(signal.SIGTERM)
        os.kill(pid, signal.SIGCONT)
        for n, (c, want) in enumerate(zip(conns, expected)):
            for i, w in enumerate(want):
                try:
                    got = c.read_reply()
                except ConnectionClosed as e:
                    self.fail(f"connection {n}: only {i} of {len(want)} replies before the close: {e}")
                self.assertEqual(got, w, f"connection {n} reply {i}")
            self.assertClosedAfter(c, f"connection {n} after SIGTERM", timeout=5)
        self.assertEqual([http.read_response().status for _ in range(100)], [200] * 100)
        rc = self.kvd.wait(8)
        self.assertEqual(rc, 0, f"exit code after SIGTERM\n{self.kvd.stderr()[-2000:]}")


def process_state(pid: int) -> str:
    """The state letter of /proc/PID/stat (R, S, T, ...)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


class RespMetricsTest(RespTestCase):

    def test_command_counters_and_open_connections(self):
        m = scrape(self.port)
        self.assertEqual(m['kvd_resp_commands_total{command="get"}'], 0, "GET's sample exists from the start")
        conns = [self.resp_connect() for _ in range(3)]
        for c in conns:
            self.assertEqual(c.command("PING"), "PONG")
        c = conns[0]
        c.pipeline([("SET", f"k{i}", i) for i in range(5)] + [("GET", f"k{i}") for i in range(7)]
                   + [("FOO",), ("BAR", 1), ("GET",), ("SET", "s", "x"), ("INCR", "s")])
        m = scrape(self.port)
        self.assertEqual(m['kvd_connections_open{protocol="resp"}'], 3)
        self.assertEqual(m['kvd_connections_accepted_total{protocol="resp"}'], 3)
        self.assertEqual(m['kvd_resp_commands_total{command="set"}'], 6)
        self.assertEqual(m['kvd_resp_commands_total{command="get"}'], 7, "a GET refused for its arity ran")
        self.assertEqual(m['kvd_resp_commands_total{command="ping"}'], 3)
        self.assertEqual(m['kvd_resp_commands_total{command="incr"}'], 1, "a failed INCR ran")
        self.assertEqual(m['kvd_resp_command_errors_total{command="unknown",kind="rejected"}'], 2)
        self.assertEqual(m['kvd_resp_command_errors_total{command="get",kind="rejected"}'], 1)
        self.assertEqual(m['kvd_resp_command_errors_total{command="incr",kind="failed"}'], 1)
        self.assertNotIn('kvd_resp_command_errors_total{command="set",kind="failed"}', m)
        self.assertEqual(m['kvd_connections_open{protocol="http"}'], 1, "the scrape's own connection")
        stats = parse_info(c.command("INFO", "commandstats"))["Commandstats"]
        self.assertEqual(stats["cmdstat_get"], "calls=7,rejected_calls=1,failed_calls=0")
        self.assertEqual(stats["cmdstat_incr"], "calls=1,rejected_calls=0,failed_calls=1")
        for x in conns[1:]:
            x.close()
        self.assertTrue(wait_until(lambda: resp_metric(self.port, "kvd_connections_open", protocol="resp") == 1),
                        "closed RESP connections still counted open")


class RespReactorsTest(RespTestCase):
    kvd_flags = ["--threads=2", "--ttl=10m"]

    def test_concurrent_clients_on_two_reactors(self):
        workers, rounds = 8, 40  # each round: a pipeline of 10 commands
        errors: list[str] = []

        def work(w: int) -> None:
            try:
                with RespConn(self.resp_port, timeout=10) as c:
                    for r in range(rounds):
                        keys = [f"w{w}:{r}:{j}" for j in range(3)]
                        got = c.pipeline([("SET", keys[0], w), ("MSET", keys[1], r, keys[2], "x"),
                                          ("INCR", "shared"), ("INCRBY", f"own{w}", 2), ("GET", keys[0]),
                                          ("MGET", *keys), ("EXISTS", *keys), ("DEL", keys[2]),
                                          ("GET", keys[2]), ("PING",)])
                        want = ["OK", "OK", None, 2 * (r + 1), str(w).encode(),
                                [str(w).encode(), str(r).encode(), b"x"], 3, 1, None, "PONG"]
                        if not isinstance(got[2], int):
                            errors.append(f"worker {w}: INCR answered {got[2]!r}")
                        got[2] = None
                        if got != want:
                            errors.append(f"worker {w} round {r}: {got} != {want}")
                            return
            except (OSError, AssertionError) as e:
                errors.append(f"worker {w}: {type(e).__name__}: {e}")

        threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertFalse([t for t in threads if t.is_alive()], "a worker did not finish in 30 s")
        self.assertEqual(errors[:5], [])
        c = self.resp_connect()
        self.assertEqual(c.command("GET", "shared"), str(workers * rounds).encode(), "an INCR was lost")
        self.assertEqual(c.command("DBSIZE"), workers * rounds * 2 + workers + 1)
        self.assertEqual(c.command("DBSIZE"), self.size())


    def test_mset_and_mget_are_one_step_across_reactors(self):
        # Writers MSET the same round number to 16 keys (spread over the shards); readers MGET
        # them: with the step each MGET sees one MSET's values, never a mix. Without it a mix
        # shows up within a few hundred reads here.
        keys = [f"atomic{i}" for i in range(16)]
        c = self.resp_connect()
        c.command("MSET", *[x for k in keys for x in (k, "0")])
        stop = threading.Event()
        errors: list[str] = []
        reads = [0]

        def writer(w: int) -> None:
            try:
                with RespConn(self.resp_port, timeout=10) as wc:
                    for r in range(300):
                        v = str(w * 100000 + r)
                        got = wc.pipeline([("MSET", *[x for k in keys for x in (k, v)])] * 5)
                        if got != ["OK"] * 5:
                            errors.append(f"writer {w}: {got[:2]}")
                            return
            except OSError as e:
                errors.append(f"writer {w}: {e}")

        def reader() -> None:
            try:
                with RespConn(self.resp_port, timeout=10) as rc:
                    while not stop.is_set():
                        for got in rc.pipeline([("MGET", *keys)] * 5):
                            reads[0] += 1
                            if len(set(got)) != 1:
                                errors.append(f"a torn MGET: {sorted(set(got))[:4]}")
                                return
            except OSError as e:
                errors.append(f"reader: {e}")

        writers = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        readers = [threading.Thread(target=reader) for _ in range(4)]
        for t in writers + readers:
            t.start()
        for t in writers:
            t.join(60)
        stop.set()
        for t in readers:
            t.join(30)
        self.assertFalse([t for t in writers + readers if t.is_alive()], "a client did not finish")
        self.assertEqual(errors[:3], [])
        self.assertGreater(reads[0], 0)


# --------------------------------------------------------------------------------------------
# Real tools
# --------------------------------------------------------------------------------------------

def run_redis_py(test: unittest.TestCase, mode: str, *args) -> None:
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        test.skipTest(f"{SYSTEM_PYTHON} not found: redis-py runs under Debian's Python (apt-get install python3-redis)")
    p = subprocess.run([SYSTEM_PYTHON, os.path.join(HERE, "redis_py_client.py"), mode, *map(str, args)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    if p.returncode == 3:
        test.skipTest(f"the redis module is missing for {SYSTEM_PYTHON} (apt-get install python3-redis): "
                      f"{p.stderr.strip()}")
    test.assertEqual((p.returncode, p.stdout.strip()), (0, "ok"), f"redis-py {mode}:\n{p.stderr[-3000:]}")


class RespToolsTest(RespTestCase):
    kvd_flags = ["--ttl=10m"]

    def cli(self, *args: str, stdin: bytes | None = None) -> bytes:
        p = subprocess.run(["redis-cli", "-h", HOST, "-p", str(self.resp_port), *args], input=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, f"redis-cli {args}: {p.stderr!r}")
        return p.stdout

    @unittest.skipUnless(shutil.which("redis-cli"), "redis-cli is not installed (apt-get install redis-tools)")
    def test_redis_cli_one_shot_commands(self):
        self.assertEqual(self.cli("PING"), b"PONG\n")
        self.assertEqual(self.cli("SET", "a", "hello world"), b"OK\n")
        self.assertEqual(self.cli("GET", "a"), b"hello world\n")
        self.assertEqual(self.cli("GET", "missing"), b"\n")
        self.assertEqual(self.cli("INCR", "n"), b"1\n")
        self.assertEqual(self.cli("TTL", "a"), b"600\n")
        self.assertEqual(self.cli("MGET", "a", "missing", "n"), b"hello world\n\n1\n")
        self.assertEqual(self.cli("FOO"), b"ERR unknown command 'FOO', with args beginning with: \n\n")
        self.assertIn(b"redis_version:7.0.0", self.cli("INFO", "server"))
        self.assertEqual(self.get("/a").body, b"hello world")

    @unittest.skipUnless(shutil.which("redis-cli"), "redis-cli is not installed (apt-get install redis-tools)")
    def test_redis_cli_piped_input_and_mass_insertion(self):
        self.assertEqual(self.cli(stdin=b"SET a 1\nGET a\nINCR a\nDEL a\n"), b"OK\n1\n2\n1\n")
        data = b"".join(encode_command("SET", f"mass{i}", i) for i in range(10000))
        out = self.cli("--pipe", stdin=data)
        self.assertIn(b"errors: 0, replies: 10000", out)
        self.assertEqual(self.cli("DBSIZE"), b"10000\n")
        self.assertEqual(self.cli("GET", "mass9999"), b"9999\n")

    @unittest.skipUnless(shutil.which("redis-benchmark"), "redis-benchmark is not installed (apt-get install redis-tools)")
    def test_redis_benchmark_completes_without_errors(self):
        p = subprocess.run(["redis-benchmark", "-h", HOST, "-p", str(self.resp_port), "-t", "set,get,incr,mset",
                            "-n", "20000", "-P", "10", "-q"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90)
        out = p.stdout + p.stderr
        self.assertEqual(p.returncode, 0, out[-2000:])
        for test in ("SET", "GET", "INCR", r"MSET \(10 keys\)"):
            self.assertRegex(out, rf"(?m)^{test}: [0-9.]+ requests per second", f"{test} did not complete")
        self.assertNotRegex(out, r"(?i)error|ERR ", out[-2000:])
        m = scrape(self.port)
        for cmd in ("set", "get", "incr", "mset"):
            self.assertEqual(m[f'kvd_resp_commands_total{{command="{cmd}"}}'], 20000, cmd)
        errors = {k: v for k, v in m.items() if k.startswith("kvd_resp_command_errors_total") and v}
        self.assertEqual(errors, {})
        c = self.resp_connect()
        # Without -r every INCR hits the one key "counter:__rand_int__".
        self.assertEqual(c.command("GET", "counter:__rand_int__"), b"20000")
        self.assertEqual(c.command("DBSIZE"), 2)

    def test_redis_py_client(self):
        run_redis_py(self, "basic", self.resp_port)


if __name__ == "__main__":
    unittest.main()

"""The Errors table of README.md. Each bad request goes on its own connection; we check the
status, whether the connection is closed or kept as the table says, and that afterwards a fresh
connection is served and previously stored keys are intact."""
from __future__ import annotations

import time
import unittest

from kvdtest import ConnectionClosed, KvdTestCase, build_request

SEED = {"/seed": b"seed-value", "/seed2": bytes(range(256))}


class BadInputTest(KvdTestCase):
    kvd_flags = ["--max-value-bytes=1024"]

    def setUp(self):
        super().setUp()
        for k, v in SEED.items():
            self.assertStatus(self.put(k, v), 200)

    def assertServerHealthy(self, what: str):
        c = self.connect()
        for k, v in SEED.items():
            r = c.request("GET", k)
            self.assertStatus(r, 200, f"after {what}: GET {k}:")
            self.assertEqual(r.body, v, f"after {what}: stored key {k} changed")
        self.assertEqual(self.size(c), len(SEED), f"after {what}: /size")
        c.close()

    def bad(self, raw: bytes, status: int, closed: bool, what: str):
        """Sends `raw` on a new connection; expects `status`, then a close (or not)."""
        c = self.connect()
        try:
            c.try_send(raw)
            try:
                r = c.read_response()
            except ConnectionClosed as e:
                self.fail(f"{what}: no {status} response before the connection ended: {e}")
            self.assertStatus(r, status, f"{what}:")
            if closed:
                self.assertClosed(c, 3.0, f"{what}:")
            else:
                self.assertKeptOpen(c, f"{what}:")
            c.close()
            self.assertServerHealthy(what)
            return r
        finally:
            c.close()
            # A request the server wrongly accepted may have stored /target: remove it, so the
            # next subTest's /size check is not polluted.
            self.request("DELETE", "/target")

    # -- request line --
    def test_garbage_request_line(self):
        for raw in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET /seed\r\nHost: x\r\n\r\n",
                    b"\r\n\r\n\r\n\r\nxx\r\n\r\n",
                    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40 + b"\r\n\r\n"):
            with self.subTest(raw=raw[:30]):
                self.bad(raw, 400, True, f"request line {raw[:30]!r}")

    def test_invalid_method_token(self):
        for m in (b"G@T", b"GE(T", b"G\x01T", b"GET\x7f"):
            with self.subTest(method=m):
                self.bad(m + b" /seed HTTP/1.1\r\nHost: x\r\n\r\n", 400, True, f"method {m!r}")

    def test_unknown_method_tokens_are_400_closed(self):
        # README: an unknown method token is a 400 and the connection closes.
        for m in ("FOO", "BREW"):
            with self.subTest(method=m):
                self.bad(build_request(m, "/seed"), 400, True, f"method {m}")

    def test_other_http_methods_are_501(self):
        # README: "any other HTTP method (PATCH, TRACE, ...) -> 501 with Allow" (RFC 9110 9.1).
        for m in ("PURGE", "MKCOL", "PATCH", "TRACE"):
            with self.subTest(method=m):
                r = self.bad(build_request(m, "/seed"), 501, False, f"method {m}")
                allow = {x.strip() for x in (r.header("Allow") or "").split(",")}
                self.assertEqual(allow, {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"})

    def test_bad_http_version(self):
        for v in (b"HTTP/1", b"HTTX/1.1", b"HTTP/1.1x", b"http/1.1", b"HTTP/1.10"):
            with self.subTest(version=v):
                self.bad(b"GET /seed " + v + b"\r\nHost: x\r\n\r\n", 400, True, f"version {v!r}")
        # Well-formed, another major version: 505.
        for v in (b"HTTP/9.9", b"HTTP/3.0"):
            with self.subTest(version=v):
                self.bad(b"GET /seed " + v + b"\r\nHost: x\r\n\r\n", 505, True, f"version {v!r}")

    def test_http2_preface_is_505(self):
        self.bad(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, True, "HTTP/2 preface")

    def test_http2_preface_with_settings_frame(self):
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
        self.bad(preface, 505, True, "HTTP/2 preface + SETTINGS")

    def test_target_over_8192_is_414_closed(self):
        self.bad(build_request("GET", "/" + "a" * 10000), 414, True, "10000-byte target")

    # -- keys (connection kept) --
    def test_empty_key_is_400_kept(self):
        self.bad(build_request("GET", "/"), 400, False, "GET /")
        self.bad(build_request("POST", "/", b"v"), 400, False, "POST /")
        self.bad(build_request("POST", "/?x=1", b"v"), 400, False, "POST /?x=1")

    def test_bad_percent_encoding_is_400_kept(self):
        for t in ("/%zz", "/%4", "/%", "/a%g1", "/%%41"):
            with self.subTest(target=t):
                self.bad(build_request("GET", t), 400, False, f"GET {t}")
        self.bad(build_request("POST", "/%zz", b"v"), 400, False, "POST /%zz")

    # -- framing --
    def test_content_length_with_transfer_encoding(self):
        raw = (b"POST /target HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.bad(raw, 400, True, "CL + TE")
        raw = (b"POST /target HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Content-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.bad(raw, 400, True, "TE + CL")

    def test_duplicate_content_length_equal(self):
        raw = (b"POST /target HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"
               b"hello")
        self.bad(raw, 400, True, "duplicate equal Content-Length")

    def test_duplicate_content_length_different(self):
        raw = (b"POST /target HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
               b"hello!")
        self.bad(raw, 400, True, "duplicate different Content-Length")

    def test_invalid_content_length(self):
        for v in (b"abc", b"-1", b"+5", b"5 5", b"0x5", b"99999999999999999999999"):
            with self.subTest(cl=v):
                raw = b"POST /target HTTP/1.1\r\nHost: x\r\nContent-Length: " + v + b"\r\n\r\nhello"
                self.bad(raw, 400, True, f"Content-Length {v!r}")

    def test_transfer_encoding_other_than_chunked(self):
        for te in (b"gzip", b"identity", b"chunked, gzip"):
            with self.subTest(te=te):
                raw = (b"POST /target HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te +
                       b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
                self.bad(raw, 400, True, f"Transfer-Encoding {te!r}")
        # chunked last after a coding kvd does not decode: 501 (RFC 9112 6.1), still closed.
        raw = (b"POST /target HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked"
               b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.bad(raw, 501, True, "Transfer-Encoding gzip, chunked")

    def test_invalid_chunk_size(self):
        raw = (b"POST /target HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"zz\r\nhello\r\n0\r\n\r\n")
        self.bad(raw, 400, True, "chunk size zz")

    # -- header syntax --
    def test_obs_fold(self):
        for ws in (b" ", b"\t"):
            with self.subTest(ws=ws):
                raw = b"GET /seed HTTP/1.1\r\nHost: x\r\nX-A: one\r\n" + ws + b"two\r\n\r\n"
                self.bad(raw, 400, True, f"obs-fold ({ws!r})")

    def test_bare_cr_in_header_value(self):
        raw = b"GET /seed HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"
        self.bad(raw, 400, True, "bare CR")

    def test_bare_cr_before_header_value(self):
        # llhttp 8.1 takes the byte after such a CR for the line's LF: "X: \rvY: z" would smuggle
        # a header in (here a Transfer-Encoding that would change the framing).
        for raw in (b"GET /seed HTTP/1.1\r\nHost: x\r\nX-A: \rv\r\n\r\n",
                    b"POST /seed HTTP/1.1\r\nHost: x\r\nX-A:\rxTransfer-Encoding: chunked\r\n\r\n"
                    b"0\r\n\r\n"):
            with self.subTest(raw=raw):
                self.bad(raw, 400, True, "bare CR before a value")

    def test_nul_in_header(self):
        self.bad(b"GET /seed HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400, True, "NUL in value")
        self.bad(b"GET /seed HTTP/1.1\r\nHost: x\r\nX-\x00A: ab\r\n\r\n", 400, True, "NUL in name")

    def test_other_control_bytes_in_header(self):
        for b in (b"\x01", b"\x1b", b"\x7f"):
            with self.subTest(byte=b):
                raw = b"GET /seed HTTP/1.1\r\nHost: x\r\nX-A: a" + b + b"b\r\n\r\n"
                self.bad(raw, 400, True, f"control byte {b!r} in header value")

    def test_malformed_header_lines(self):
        for line in (b"NoColonHere", b"Space Name: v", b"Host : x", b": empty-name"):
            with self.subTest(line=line):
                raw = b"GET /seed HTTP/1.1\r\nHost: x\r\n" + line + b"\r\n\r\n"
                self.bad(raw, 400, True, f"header line {line!r}")

    # -- sizes --
    def test_header_section_20000_bytes_is_431(self):
        raw = b"GET /seed HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
        self.bad(raw, 431, True, "20000-byte header section")

    def test_many_small_headers_over_8192_bytes_is_431(self):
        hdrs = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 150) for i in range(60))  # ~10 KB
        self.bad(b"GET /seed HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n", 431, True,
                 "60 headers of 160 bytes")

    def test_150_headers_is_431(self):
        hdrs = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
        self.bad(b"GET /seed HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n", 431, True, "150 headers")

    def test_100_header_lines_accepted(self):
        hdrs = b"".join(b"X-H%d: v\r\n" % i for i in range(99))  # + Host = 100 lines
        c = self.connect()
        c.send(b"GET /seed HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n")
        r = c.read_response()
        self.assertStatus(r, 200, "100 header lines is within the limit:")
        self.assertEqual(r.body, SEED["/seed"])

    def test_body_over_limit_413_before_body_sent(self):
        c = self.connect()
        c.send(b"POST /target HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
        t0 = time.monotonic()
        try:
            r = c.read_response()
        except ConnectionClosed as e:
            self.fail(f"no 413 before the close: {e}")
        self.assertStatus(r, 413, "Content-Length 100000000 (body not sent):")
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertClosed(c, 3.0, "413:")
        self.assertServerHealthy("413 from Content-Length")

    def test_body_over_limit_with_expect_gets_413_not_100(self):
        c = self.connect()
        c.send(b"POST /target HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
               b"Expect: 100-continue\r\n\r\n")
        r = c.read_response(interim=True)
        self.assertStatus(r, 413, "oversized Expect: 100-continue request:")
        self.assertClosed(c, 3.0)
        self.assertServerHealthy("413 with Expect")

    def test_chunked_body_over_limit_is_413(self):
        raw = (b"POST /target HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"258\r\n" + b"a" * 600 + b"\r\n258\r\n" + b"b" * 600 + b"\r\n0\r\n\r\n")
        self.bad(raw, 413, True, "chunked 1200 bytes > 1024")

    def test_chunked_body_at_limit_accepted(self):
        c = self.connect()
        c.send(b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"200\r\n" + b"a" * 512 + b"\r\n200\r\n" + b"b" * 512 + b"\r\n0\r\n\r\n")
        r = c.read_response()
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"a" * 512 + b"b" * 512)

    # -- ordering --
    def test_good_then_bad_in_one_pipeline(self):
        c = self.connect()
        c.send(build_request("POST", "/good", b"g") + b"G@T / HTTP/1.1\r\n\r\n"
               + build_request("POST", "/never", b"n"))
        r = c.read_response()
        self.assertStatus(r, 200, "the good request before the bad one is answered:")
        self.assertEqual(r.body, b"g")
        self.assertStatus(c.read_response(), 400)
        self.assertClosed(c, 3.0)
        self.assertEqual(self.get("/good").body, b"g")
        self.assertEqual(self.get("/never").body, b"", "nothing after a fatal error is processed")

    def test_kept_errors_do_not_desync_the_stream(self):
        c = self.connect()
        c.send(build_request("POST", "/", b"body-of-bad-request")
               + build_request("POST", "/%zz", b"another-body")
               + build_request("POST", "/k?nx&xx", b"third")
               + build_request("GET", "/seed"))
        rs = c.read_responses(4)
        self.assertEqual([r.status for r in rs], [400, 400, 400, 200])
        self.assertEqual(rs[3].body, SEED["/seed"])


if __name__ == "__main__":
    unittest.main()

"""RFC 9110 / RFC 9112 conformance against a real kvd (docs/http.md lists every rule and names the
test that shows it): Host, the request line and its target, line endings, framing fields, chunked
bodies and trailers, Expect, methods (OPTIONS, 501), PUT's 201, and two real clients (Python's
http.client and urllib, and curl).

Every case in TABLE is sent on its own connection with a request behind it: a refusal that keeps
the connection must answer that request too, one that closes must never run it."""
from __future__ import annotations

import http.client
import shutil
import subprocess
import unittest
import urllib.error
import urllib.request

from kvdtest import ConnectionClosed, HttpConn, KvdTestCase, build_request

H = b"Host: x\r\n"
TE = b"Transfer-Encoding: chunked\r\n"
BEHIND = build_request("POST", "/behind", b"ran")  # the request after each case
ALLOW_KEY = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"}


def get(target: bytes = b"/seed", headers: bytes = H, version: bytes = b"HTTP/1.1") -> bytes:
    return b"GET " + target + b" " + version + b"\r\n" + headers + b"\r\n"


def post(headers: bytes, body: bytes, target: bytes = b"/t") -> bytes:
    return b"POST " + target + b" HTTP/1.1\r\n" + H + headers + b"\r\n" + body


def chunked_post(trailers: bytes = b"", end: bytes = b"\r\n", target: bytes = b"/t") -> bytes:
    return post(TE, b"5\r\nhello\r\n0\r\n" + trailers + end, target)


# (name, raw request, status, connection closed after it, reason in the body (or None))
TABLE: list[tuple[str, bytes, int, bool, str | None]] = [
    # Host (RFC 9112 3.2): 400 for each, the connection kept (the request is well framed)
    ("no Host", get(headers=b""), 400, False, "missing Host header"),
    ("two equal Host lines", get(headers=H + H), 400, False, "more than one Host header"),
    ("two different Host lines", get(headers=H + b"Host: y\r\n"), 400, False, "more than one Host header"),
    ("empty Host", get(headers=b"Host:\r\n"), 400, False, "empty Host header"),
    ("Host with userinfo", get(headers=b"Host: user@h\r\n"), 400, False, "invalid Host header: must be host[:port]"),
    ("Host with a path", get(headers=b"Host: h/path\r\n"), 400, False, "invalid Host header: must be host[:port]"),
    ("Host list", get(headers=b"Host: a, b\r\n"), 400, False, "invalid Host header: must be host[:port]"),
    ("Host with a bad port", get(headers=b"Host: h:80x\r\n"), 400, False, "invalid Host header: must be host[:port]"),
    ("Host IPv6 literal", get(headers=b"Host: [::1]:8081\r\n"), 200, False, None),
    ("Host name:port", get(headers=b"Host: kvd.example.com:8081\r\n"), 200, False, None),
    ("absolute-form with Host", get(b"http://h:1/seed"), 200, False, None),
    ("absolute-form, scheme in capitals", get(b"HTTP://h/seed"), 200, False, None),
    ("absolute-form without Host", get(b"http://h/seed", headers=b""), 400, False, "missing Host header"),
    ("absolute-form with userinfo", get(b"http://u@h/seed"), 400, False, "userinfo in the request target"),
    ("absolute-form, empty host", get(b"http:///seed"), 400, False, "invalid host in the request target"),
    ("another scheme", get(b"ftp://h/seed"), 400, False, "request target must be a path or an http(s) URI"),
    ("https over plain HTTP", get(b"https://h/seed"), 421, False, "https request on a plain HTTP connection"),
    ("'*' with GET", get(b"*"), 400, False, "'*' is a request target for OPTIONS only"),
    # the request line (RFC 9112 2.2, 3): closed, another parser may split it differently
    ("bare LF ending the request line", b"GET /seed HTTP/1.1\n" + H + b"\r\n", 400, True, "bare LF ending the request line"),
    ("bare LF ending a request line without headers", b"GET /seed HTTP/1.0\n\r\n", 400, True, None),
    ("two spaces before the target", b"GET  /seed HTTP/1.1\r\n" + H + b"\r\n", 400, True, "more than one space in the request line"),
    ("two spaces before the version", b"GET /seed  HTTP/1.1\r\n" + H + b"\r\n", 400, True, "more than one space in the request line"),
    ("#fragment", get(b"/seed#frag"), 400, True, "#fragment in the request target"),
    ("raw UTF-8 in the target", get("/café".encode()), 400, True, None),
    ("overlong UTF-8 in the target", get(b"/\xc0\xaf"), 400, True, None),
    ("HTAB in the target", get(b"/se\ted"), 400, True, None),
    ("HTTP/1.2 is served as 1.1", get(version=b"HTTP/1.2"), 200, False, None),
    ("HTTP/3.0", get(version=b"HTTP/3.0"), 505, True, None),
    # the end of the header section
    ("bare LF ending the header section", b"GET /seed HTTP/1.1\r\n" + H + b"\n", 400, True, "bare LF ending the header section"),
    ("CR and another byte ending the header section", b"GET /seed HTTP/1.1\r\n" + H + b"\rX", 400, True, None),
    # Content-Length (RFC 9110 8.6): leading zeros closed; blanks around it are not part of it
    ("Content-Length with a leading zero", post(b"Content-Length: 05\r\n", b"hello"), 400, True, "Content-Length with a leading zero"),
    ("Content-Length 007", post(b"Content-Length: 007\r\n", b"1234567"), 400, True, "Content-Length with a leading zero"),
    ("Content-Length with blanks around it", post(b"Content-Length:   5  \r\n", b"hello"), 200, False, None),
    ("Content-Length 0", post(b"Content-Length: 0\r\n", b""), 200, False, None),
    # Transfer-Encoding (RFC 9112 6.1)
    ("Transfer-Encoding in HTTP/1.0", b"POST /t HTTP/1.0\r\n" + TE + b"\r\n5\r\nhello\r\n0\r\n\r\n", 400, True, "Transfer-Encoding in an HTTP/1.0 request"),
    ("gzip, chunked", post(b"Transfer-Encoding: gzip, chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n"), 501, True, None),
    # chunk framing and the trailer section (RFC 9112 7.1)
    ("bare LF ending the chunked body", chunked_post(end=b"\n"), 400, True, "bare LF ending the chunked body"),
    ("bare LF ending the trailer section", chunked_post(b"X-T: 1\r\n", end=b"\n"), 400, True, "bare LF ending the chunked body"),
    ("bare LF ending a trailer line", chunked_post(b"X-T: 1\nX-U: 2\r\n"), 400, True, None),
    ("CR and another byte ending the trailer section", chunked_post(end=b"\rX"), 400, True, None),
    ("CR and another byte ending a chunk-size line", post(TE, b"5\rXhello\r\n0\r\n\r\n"), 400, True, None),
    ("64 KiB chunk extension", post(TE, b"5;" + b"e" * (64 << 10) + b"\r\nhello\r\n0\r\n\r\n"), 400, True, "chunk extensions too long"),
    ("a short chunk extension", post(TE, b"5;name=value\r\nhello\r\n0\r\n\r\n"), 200, False, None),
    ("an ordinary trailer", chunked_post(b"X-Checksum: 1\r\n"), 200, False, None),
] + [
    (f"{name} in the trailer section", chunked_post(name.encode() + b": x\r\n"), 400, True,
     "a framing, routing or authorization field in the trailer section")
    for name in ("Content-Length", "Host", "Authorization", "Content-Type", "Transfer-Encoding")
] + [
    # Expect (RFC 9110 10.1.1): 417, kept once the body is read; closed if the client waits for
    # 100 Continue (it gets no 100, and may still send the body)
    ("unknown expectation", post(b"Expect: foo\r\nContent-Length: 5\r\n", b"hello"), 417, False, "unsupported expectation: only 100-continue is supported"),
    ("100-continue and an unknown one", post(b"Expect: 100-continue, foo\r\nContent-Length: 5\r\n", b"hello"), 417, True, None),
    ("100-continue on a request refused for its Host", b"POST /t HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", 400, True, "missing Host header"),
    # field values kvd refuses in well-framed requests: kept
    ("percent-encoded NUL in the key", get(b"/a%00b"), 400, False, "key contains NUL, CR or LF"),
    ("percent-encoded CR LF in the key", get(b"/a%0d%0aX:%20y"), 400, False, "key contains NUL, CR or LF"),
    ("two Authorization lines", get(headers=H + b"Authorization: Bearer a\r\nAuthorization: b\r\n"), 400, False, "more than one Authorization header"),
    ("PUT with Content-Range", b"PUT /t HTTP/1.1\r\n" + H + b"Content-Range: bytes 0-4/10\r\nContent-Length: 5\r\n\r\nhello", 400, False, "Content-Range in a PUT request"),
    # methods (RFC 9110 9.1)
    ("PATCH (not implemented)", b"PATCH /seed HTTP/1.1\r\n" + H + b"Content-Length: 1\r\n\r\nx", 501, False, "method not implemented"),
    ("TRACE (not implemented)", b"TRACE /seed HTTP/1.1\r\n" + H + b"\r\n", 501, False, "method not implemented"),
    ("CONNECT (not implemented)", b"CONNECT h:443 HTTP/1.1\r\n" + H + b"\r\n", 501, True, None),
]


class ConformanceTableTest(KvdTestCase):
    kvd_flags = ["--ttl=10m"]

    def test_table(self):
        self.assertStatus(self.put("/seed", b"seed-value"), 200)
        for name, raw, status, closed, reason in TABLE:
            with self.subTest(case=name):
                self._case(name, raw, status, closed, reason)

    def _case(self, name, raw, status, closed, reason):
        try:
            with HttpConn(self.port) as c:
                c.try_send(raw + BEHIND)
                try:
                    r = c.read_response()
                except ConnectionClosed as e:
                    self.fail(f"{name}: no {status} response before the connection ended: {e}")
                self.assertStatus(r, status, f"{name}:")
                self.assertEqual(r.interim, [], f"{name}: an interim response")
                if status >= 400:
                    self.assertNotIn(b"\n", r.body, f"{name}: the reason must be one line")
                    self.assertTrue(r.body, f"{name}: no reason given")
                if reason is not None:
                    self.assertEqual(r.body.decode(), reason, f"{name}: reason")
                if closed:
                    self.assertEqual(r.header("Connection"), "close", f"{name}: no Connection: close")
                    self.assertClosed(c, 3.0, f"{name}:")
                else:
                    self.assertIsNone(r.header("Connection"), f"{name}: the connection should be kept")
                    follow = c.read_response()
                    self.assertStatus(follow, 200, f"{name}: the request behind it:")
                    self.assertEqual(follow.body, b"ran")
            with HttpConn(self.port) as check:
                self.assertEqual(check.request("GET", "/seed").body, b"seed-value", f"after {name}")
                ran = check.request("GET", "/behind").body
                self.assertEqual(ran, b"" if closed else b"ran", f"after {name}: /behind")
                if status >= 400:
                    self.assertEqual(check.request("GET", "/t").body, b"", f"after {name}: a refused write stored")
        finally:
            with HttpConn(self.port) as cleanup:
                cleanup.request("DELETE", "/behind")
                cleanup.request("DELETE", "/t")

    def test_http10_without_host(self):
        # RFC 9112 3.2: only HTTP/1.1 requires Host.
        self.put("/seed", b"seed-value")
        c = self.connect()
        c.send(b"GET /seed HTTP/1.0\r\n\r\n")
        r = c.read_response()
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"seed-value")
        self.assertClosed(c)  # HTTP/1.0 without keep-alive
        c = self.connect()
        c.send(b"GET /seed HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        self.assertStatus(c.read_response(), 200)
        self.assertKeptOpen(c)

    def test_refused_body_is_read_not_stored(self):
        # A refused POST is framed and skipped like any other: its body is not taken for a request.
        inner = b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n"
        c = self.connect()
        c.send(b"POST /t HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(inner) + inner + BEHIND)
        self.assertStatus(c.read_response(), 400)
        self.assertEqual(c.read_response().body, b"ran")
        self.assertEqual(self.get("/t").body, b"")

    def test_expect_100_continue_then_body(self):
        c = self.connect()
        c.send(b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        interim = c.read_response(interim=True)
        self.assertStatus(interim, 100)
        c.send(b"hello")
        self.assertEqual(c.read_response().body, b"hello")
        # Refused before the body: the final answer comes at once, without 100.
        c = self.connect()
        c.send(b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue, x-y\r\nContent-Length: 5\r\n\r\n")
        r = c.read_response(interim=True)
        self.assertStatus(r, 417)
        self.assertEqual(r.header("Connection"), "close")
        self.assertClosed(c)


class OptionsTest(KvdTestCase):

    def options(self, target: str) -> "Response":
        r = self.request("OPTIONS", target)
        self.assertStatus(r, 200, f"OPTIONS {target}")
        self.assertEqual(r.header("Content-Length"), "0", "RFC 9110 9.3.7: no content, Content-Length 0")
        self.assertEqual(r.body, b"")
        return r

    def allow(self, r) -> set[str]:
        return {m.strip() for m in (r.header("Allow") or "").split(",") if m.strip()}

    def test_server(self):
        self.assertEqual(self.allow(self.options("*")), ALLOW_KEY)

    def test_key_and_reserved_paths(self):
        self.assertEqual(self.allow(self.options("/k")), ALLOW_KEY)
        self.assertEqual(self.allow(self.options("/a%20b?ttl=1s")), ALLOW_KEY)
        self.assertEqual(self.allow(self.options("/size")), {"GET", "HEAD", "POST", "OPTIONS"})
        for p in ("/metrics", "/healthz"):
            self.assertEqual(self.allow(self.options(p)), {"GET", "HEAD", "OPTIONS"}, p)
        self.assertEqual(self.size(), 0, "OPTIONS stores nothing")

    def test_allow_matches_what_the_path_takes(self):
        # Every method Allow lists for a key is served (not 405/501); the others are not.
        for m in sorted(ALLOW_KEY):
            r = self.request(m, "/allow-k", b"v" if m in ("POST", "PUT") else None)
            self.assertLess(r.status, 405, f"{m} /allow-k: {r!r}")
        for m in ("PATCH", "TRACE", "PURGE"):
            self.assertStatus(self.request(m, "/allow-k"), 501, m)
        for p, allow in (("/size", {"GET", "HEAD", "POST", "OPTIONS"}), ("/healthz", {"GET", "HEAD", "OPTIONS"})):
            for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"):
                r = self.request(m, p, b"" if m in ("POST", "PUT") else None)
                self.assertEqual(r.status < 400, m in allow, f"{m} {p}: {r.status}")

    def test_options_with_a_body_and_pipelined(self):
        c = self.connect()
        c.send(build_request("OPTIONS", "/k", b"ignored") + build_request("OPTIONS", "*") + build_request("GET", "/k"))
        rs = c.read_responses(3)
        self.assertEqual([r.status for r in rs], [200, 200, 200])
        self.assertEqual(self.size(), 0)


class AuthorizationInTrailerTest(KvdTestCase):
    kvd_flags = ["--auth-token=s3cret"]

    def test_token_in_a_trailer_is_refused_and_nothing_stored(self):
        raw = (b"POST /k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n0\r\nAuthorization: Bearer s3cret\r\n\r\n")
        c = self.connect()
        c.send(raw)
        r = c.read_response()
        self.assertStatus(r, 400)
        self.assertClosed(c)
        auth = [("Authorization", "Bearer s3cret")]
        self.assertEqual(self.request("GET", "/k", headers=auth).body, b"")
        self.assertEqual(self.request("GET", "/size", headers=auth).body.strip(), b"0")

    def test_token_in_the_header_section_with_a_trailer(self):
        raw = (b"POST /k HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n")
        c = self.connect()
        c.send(raw)
        self.assertStatus(c.read_response(), 200)
        # Without the header, chunked or not, a write is 401.
        c.send(b"POST /k2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.assertStatus(c.read_response(), 401)


class PutCreatedTest(KvdTestCase):

    def test_put_creates_201_replaces_200(self):
        self.assertStatus(self.request("PUT", "/p", b"1"), 201)
        self.assertStatus(self.request("PUT", "/p", b"2"), 200)
        self.assertStatus(self.request("PUT", "/p?xx", b"3"), 200)
        self.assertStatus(self.request("PUT", "/q?xx", b"3"), 412)
        self.assertStatus(self.request("PUT", "/q?nx", b"4"), 201)
        self.assertStatus(self.request("PUT", "/q?nx", b"5"), 412)
        self.assertEqual(self.get("/p").body, b"3")
        self.assertEqual(self.get("/q").body, b"4")


class RealClientsTest(KvdTestCase):
    """Clients users have: Python's http.client and urllib, and curl."""
    kvd_flags = ["--max-value-bytes=4194304"]

    def test_python_http_client(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            def call(method, path, body=None, headers=None):
                conn.request(method, path, body=body, headers=headers or {})
                r = conn.getresponse()
                return r.status, r.read(), r
            self.assertEqual(call("PUT", "/py", b"one")[:2], (201, b"one"))
            self.assertEqual(call("POST", "/py", b"two")[:2], (200, b"two"))
            self.assertEqual(call("GET", "/py")[:2], (200, b"two"))
            status, body, r = call("HEAD", "/py")
            self.assertEqual((status, body, r.getheader("Content-Length")), (200, b"", "3"))
            status, body, r = call("OPTIONS", "/py")
            self.assertEqual((status, body), (200, b""))
            self.assertEqual(r.getheader("Allow"), "GET, HEAD, POST, PUT, DELETE, OPTIONS")
            status, body, r = call("OPTIONS", "*")
            self.assertEqual(status, 200)
            # http.client sends an iterable body chunked.
            self.assertEqual(call("POST", "/chunks", iter([b"ab", b"cd"]))[:2], (200, b"abcd"))
            self.assertEqual(call("PATCH", "/py", b"x")[0], 501)
            self.assertEqual(call("DELETE", "/py")[0], 204)
            # One connection throughout: none of the above closed it.
            self.assertEqual(call("GET", "/size")[1].strip(), b"1")  # /chunks
            # skip_host: a request without Host is a 400, and the connection stays usable.
            conn.putrequest("GET", "/size", skip_host=True)
            conn.endheaders()
            r = conn.getresponse()
            self.assertEqual((r.status, r.read()), (400, b"missing Host header"))
            self.assertEqual(call("GET", "/size")[0], 200)
        finally:
            conn.close()

    def test_python_urllib(self):
        base = f"http://127.0.0.1:{self.port}"
        with urllib.request.urlopen(urllib.request.Request(base + "/u", data=b"v", method="PUT"), timeout=5) as r:
            self.assertEqual((r.status, r.read()), (201, b"v"))
        with urllib.request.urlopen(base + "/u", timeout=5) as r:
            self.assertEqual(r.read(), b"v")
        with urllib.request.urlopen(urllib.request.Request(base + "/u", method="OPTIONS"), timeout=5) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers["Allow"], "GET, HEAD, POST, PUT, DELETE, OPTIONS")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(base + "/u", method="PATCH"), timeout=5)
        self.assertEqual(e.exception.code, 501)

    def curl(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        if shutil.which("curl") is None:
            self.skipTest("curl binary not installed")
        return subprocess.run(["curl", "-sS", "--max-time", "10", *args], input=stdin, capture_output=True,
                              timeout=20)

    def test_curl(self):
        base = f"http://127.0.0.1:{self.port}"
        code = ["-o", "/dev/null", "-w", "%{http_code}"]
        self.assertEqual(self.curl(*code, "-X", "PUT", "--data-binary", "v", base + "/c").stdout, b"201")
        self.assertEqual(self.curl(*code, "-X", "PUT", "--data-binary", "w", base + "/c").stdout, b"200")
        p = self.curl("-i", "-X", "OPTIONS", base + "/c")
        self.assertIn(b"HTTP/1.1 200 OK", p.stdout)
        self.assertIn(b"Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS", p.stdout)
        p = self.curl("-i", "-X", "OPTIONS", "--request-target", "*", base)
        self.assertIn(b"HTTP/1.1 200 OK", p.stdout)
        # A body large enough for curl to send Expect: 100-continue first, and wait for the 100.
        big = b"x" * (2 << 20)
        p = self.curl(*code, "-v", "-X", "POST", "--data-binary", "@-", base + "/big", stdin=big)
        self.assertEqual(p.stdout, b"200", p.stderr[-500:])
        self.assertIn(b"Expect: 100-continue", p.stderr)
        self.assertIn(b"HTTP/1.1 100 Continue", p.stderr)
        self.assertEqual(len(self.get("/big").body), len(big))
        # Host removed: 400.
        self.assertEqual(self.curl(*code, "-H", "Host:", base + "/c").stdout, b"400")
        # A '#' percent-encoded is part of a key (curl never sends a raw one: it is the fragment).
        self.assertEqual(self.curl(*code, "--data-binary", "h", base + "/c%23x").stdout, b"200")
        self.assertEqual(self.curl(base + "/c%23x").stdout, b"h")


if __name__ == "__main__":
    unittest.main()

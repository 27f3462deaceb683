"""The API table of README.md: keys, values, reserved paths, methods, response headers."""
from __future__ import annotations

import email.utils
import re
import shutil
import subprocess
import unittest

from kvdtest import KvdTestCase, build_request

ALLOW_KEY = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"}
IMF_FIXDATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|"
                         r"Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")


def allow_set(r) -> set[str]:
    v = r.header("Allow")
    return {m.strip() for m in v.split(",") if m.strip()} if v is not None else set()


class CurlFlowTest(KvdTestCase):
    """The seed's documented curl session, with the real curl binary."""

    def curl(self, *args: str) -> bytes:
        if shutil.which("curl") is None:
            self.skipTest("curl binary not installed")
        p = subprocess.run(["curl", "-sS", "--max-time", "5", *args],
                           capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 0, f"curl {args} failed: {p.stderr!r}")
        return p.stdout

    def test_curl_post_size_get(self):
        base = f"localhost:{self.port}"
        self.assertEqual(self.curl("-X", "POST", f"{base}/k1", "-d", "v1"), b"v1")
        self.assertEqual(self.curl("-X", "POST", f"{base}/size").strip(), b"1")
        self.assertEqual(self.curl("-X", "GET", f"{base}/k1"), b"v1")


class BasicApiTest(KvdTestCase):

    def test_post_echoes_value_and_get_reads_it(self):
        r = self.put("/k1", b"hello")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"hello")
        r = self.get("/k1")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"hello")

    def test_overwrite_replaces_value(self):
        self.put("/k", b"first")
        self.assertEqual(self.put("/k", b"second-longer").body, b"second-longer")
        self.assertEqual(self.get("/k").body, b"second-longer")
        self.assertEqual(self.put("/k", b"x").body, b"x")
        self.assertEqual(self.get("/k").body, b"x")
        self.assertEqual(self.size(), 1)

    def test_get_miss_is_200_empty(self):
        r = self.get("/nope")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("Content-Length"), "0")

    def test_put_works_like_post(self):
        # RFC 9110 9.3.4: a PUT that creates the key is 201, one that replaces it 200.
        r = self.request("PUT", "/pk", b"putvalue")
        self.assertStatus(r, 201)
        self.assertEqual(r.body, b"putvalue")
        self.assertEqual(self.get("/pk").body, b"putvalue")
        r = self.request("PUT", "/pk", b"v2")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"v2")
        self.assertEqual(self.get("/pk").body, b"v2")
        # POST keeps the seed's 200 either way.
        self.assertStatus(self.request("POST", "/post-new", b"p"), 200)

    def test_head_has_length_and_no_body(self):
        value = b"0123456789" * 7
        self.put("/hk", value)
        c = self.connect()
        # HEAD then GET on the same connection: if HEAD carried a body, the GET's response
        # would be misparsed.
        c.send(build_request("HEAD", "/hk") + build_request("GET", "/hk"))
        h = c.read_response(head=True)
        self.assertStatus(h, 200)
        self.assertEqual(h.header("Content-Length"), str(len(value)))
        g = c.read_response()
        self.assertStatus(g, 200, "GET after HEAD:")
        self.assertEqual(g.body, value)
        self.assertEqual(bytes(c.buf), b"")

    def test_head_miss(self):
        c = self.connect()
        c.send(build_request("HEAD", "/absent") + build_request("GET", "/healthz"))
        h = c.read_response(head=True)
        self.assertStatus(h, 200)
        self.assertEqual(h.header("Content-Length"), "0")
        self.assertStatus(c.read_response(), 200)

    def test_delete_204_then_404(self):
        self.put("/dk", b"v")
        r = self.request("DELETE", "/dk")
        self.assertStatus(r, 204)
        self.assertEqual(r.body, b"")
        r = self.request("DELETE", "/dk")
        self.assertStatus(r, 404)
        r = self.get("/dk")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"")
        self.assertEqual(self.size(), 0)

    def test_delete_absent_is_404(self):
        self.assertStatus(self.request("DELETE", "/never"), 404)

    def test_delete_keeps_connection_usable(self):
        self.put("/a", b"1")
        c = self.connect()
        c.send(build_request("DELETE", "/a") + build_request("DELETE", "/a")
               + build_request("GET", "/a"))
        rs = c.read_responses(3)
        self.assertEqual([r.status for r in rs], [204, 404, 200])
        self.assertEqual(rs[2].body, b"")

    def test_binary_safe_values(self):
        value = bytes(range(256)) * 4 + b"\x00\x00\r\n\r\n\x00"
        r = self.put("/bin", value)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, value)
        self.assertEqual(self.get("/bin").body, value)
        nul = b"\x00" * 100
        self.put("/nul", nul)
        self.assertEqual(self.get("/nul").body, nul)

    def test_empty_value(self):
        r = self.put("/e", b"")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"")
        self.assertEqual(self.size(), 1, "an empty value is still a stored key")

    def test_keys_are_case_sensitive(self):
        self.put("/Key", b"upper")
        self.put("/key", b"lower")
        self.assertEqual(self.get("/Key").body, b"upper")
        self.assertEqual(self.get("/key").body, b"lower")

    def test_nested_paths_are_keys(self):
        self.put("/a/b/c", b"abc")
        self.put("/a", b"a")
        self.assertEqual(self.get("/a/b/c").body, b"abc")
        self.assertEqual(self.get("/a").body, b"a")
        self.assertEqual(self.get("/a/b").body, b"")


class MissStatusTest(KvdTestCase):
    kvd_flags = ["--miss-status=404"]

    def test_miss_is_404(self):
        r = self.get("/nope")
        self.assertStatus(r, 404)
        self.put("/yes", b"v")
        r = self.get("/yes")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"v")

    def test_head_miss_is_404(self):
        self.assertStatus(self.request("HEAD", "/nope"), 404)


class ValueLimitTest(KvdTestCase):
    kvd_flags = ["--max-value-bytes=1024"]

    def test_exact_limit_accepted(self):
        v = bytes(i % 251 for i in range(1024))
        r = self.put("/v", v)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, v)
        self.assertEqual(self.get("/v").body, v)

    def test_one_byte_over_is_413_and_closed(self):
        self.put("/v", b"old")
        c = self.connect()
        c.try_send(build_request("POST", "/v", b"x" * 1025))
        r = c.read_response()
        self.assertStatus(r, 413)
        self.assertClosed(c)
        self.assertEqual(self.get("/v").body, b"old", "a rejected write must not change the key")

    def test_put_over_limit_is_413(self):
        c = self.connect()
        c.try_send(build_request("PUT", "/v", b"x" * 1025))
        self.assertStatus(c.read_response(), 413)
        self.assertEqual(self.size(), 0)


class KeyLimitTest(KvdTestCase):
    kvd_flags = ["--max-key-bytes=16"]

    def test_max_length_key_ok(self):
        key = "/" + "k" * 16
        self.assertStatus(self.put(key, b"v"), 200)
        self.assertEqual(self.get(key).body, b"v")

    def test_one_more_is_414_and_kept(self):
        key = "/" + "k" * 17
        c = self.connect()
        r = c.request("POST", key, b"v")
        self.assertStatus(r, 414)
        self.assertKeptOpen(c, "414 key too long:")
        r = c.request("GET", key)
        self.assertStatus(r, 414)
        self.assertEqual(self.size(), 0)

    def test_limit_applies_to_decoded_key(self):
        # 16 bytes after decoding, 48 characters on the wire.
        key = "/" + "%41" * 16
        r = self.put(key, b"v")
        self.assertStatus(r, 200)
        self.assertEqual(self.get("/" + "A" * 16).body, b"v")
        self.assertStatus(self.put("/" + "%41" * 17, b"v"), 414)


class KeyDecodingTest(KvdTestCase):

    def test_percent_encoded_space(self):
        self.put("/a%20b", b"spaced")
        self.assertEqual(self.get("/%61%20%62").body, b"spaced")
        self.assertEqual(self.get("/a%20%62").body, b"spaced")
        self.assertEqual(self.size(), 1)

    def test_percent_41_is_A(self):
        self.put("/%41", b"A-value")
        self.assertEqual(self.get("/A").body, b"A-value")
        self.put("/B", b"B-value")
        self.assertEqual(self.get("/%42").body, b"B-value")
        self.put("/%4a", b"J-value")  # lower-case hex digit
        self.assertEqual(self.get("/J").body, b"J-value")
        self.assertEqual(self.size(), 3)

    def test_lowercase_hex_and_encoded_slash(self):
        self.put("/x%2fy", b"slash")
        self.assertEqual(self.get("/x/y").body, b"slash")
        self.assertEqual(self.get("/x%2Fy").body, b"slash")

    def test_plus_is_not_space_in_paths(self):
        self.put("/a+b", b"plus")
        self.assertEqual(self.get("/a%2Bb").body, b"plus")
        self.assertEqual(self.get("/a%20b").body, b"", "'+' must not decode to a space")

    def test_query_string_is_not_part_of_key(self):
        self.put("/k", b"kv")
        self.assertEqual(self.get("/k?x=1").body, b"kv")
        self.assertEqual(self.get("/k?").body, b"kv")
        self.put("/q?foo=bar&baz", b"qv")  # unknown parameters are ignored
        self.assertEqual(self.get("/q").body, b"qv")
        self.assertEqual(self.size(), 2)

    def test_encoded_question_mark_is_part_of_key(self):
        self.put("/a%3Fb", b"qm")
        self.assertEqual(self.get("/a%3fb").body, b"qm")
        self.assertEqual(self.get("/a").body, b"")

    def test_utf8_key(self):
        self.put("/%C3%A9t%C3%A9", b"summer")
        self.assertEqual(self.get("/%c3%a9t%c3%a9").body, b"summer")

    def test_binary_key(self):
        self.put("/%01%ff%7f%09", b"bk")
        self.assertEqual(self.get("/%01%FF%7F%09").body, b"bk")
        self.assertEqual(self.get("/").status, 400)

    def test_key_with_nul_cr_or_lf_is_400_kept(self):
        # They cut or split a line wherever a key is shown or passed on, escaped or not.
        c = self.connect()
        for k in ("/%00", "/a%00b", "/%0d%0a", "/x%0D%0ASet-Cookie:%20y", "/%0a"):
            with self.subTest(key=k):
                r = c.request("POST", k, b"v")
                self.assertStatus(r, 400, k)
                self.assertEqual(r.body, b"key contains NUL, CR or LF")
                self.assertStatus(c.request("GET", k), 400, k)
        self.assertKeptOpen(c)
        self.assertEqual(self.size(), 0)


class NxXxTest(KvdTestCase):

    def test_nx_on_absent_stores(self):
        r = self.put("/n?nx", b"v1")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"v1")
        self.assertEqual(self.get("/n").body, b"v1")

    def test_nx_on_present_is_412(self):
        self.put("/n", b"orig")
        r = self.put("/n?nx", b"new")
        self.assertStatus(r, 412)
        self.assertEqual(r.body.strip(), b"key exists")
        self.assertEqual(self.get("/n").body, b"orig")

    def test_xx_on_absent_is_412(self):
        r = self.put("/x?xx", b"v")
        self.assertStatus(r, 412)
        self.assertEqual(r.body.strip(), b"key does not exist")
        self.assertEqual(self.get("/x").body, b"")
        self.assertEqual(self.size(), 0)

    def test_xx_on_present_updates(self):
        self.put("/x", b"orig")
        r = self.put("/x?xx", b"upd")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"upd")
        self.assertEqual(self.get("/x").body, b"upd")

    def test_nx_and_xx_is_400_and_kept(self):
        self.put("/b", b"orig")
        c = self.connect()
        for q in ("?nx&xx", "?xx&nx"):
            r = c.request("POST", "/b" + q, b"new")
            self.assertStatus(r, 400, q)
        self.assertKeptOpen(c)
        self.assertEqual(self.get("/b").body, b"orig")
        self.assertEqual(self.get("/c").body, b"")
        self.assertStatus(self.put("/c?nx&xx", b"v"), 400)
        self.assertEqual(self.size(), 1)

    def test_412_keeps_connection(self):
        self.put("/n", b"orig")
        c = self.connect()
        self.assertStatus(c.request("POST", "/n?nx", b"v"), 412)
        self.assertStatus(c.request("POST", "/zz?xx", b"v"), 412)
        self.assertKeptOpen(c)

    def test_put_honours_nx(self):
        self.put("/p", b"orig")
        self.assertStatus(self.request("PUT", "/p?nx", b"new"), 412)
        self.assertStatus(self.request("PUT", "/q?xx", b"new"), 412)
        self.assertEqual(self.get("/p").body, b"orig")


class ReservedPathsTest(KvdTestCase):

    def test_healthz(self):
        for m in ("GET", "HEAD"):
            r = self.request(m, "/healthz")
            self.assertStatus(r, 200, m)
        r = self.request("GET", "/healthz")
        self.assertEqual(r.body.strip(), b"ok")
        self.assertEqual(r.header("Content-Length"), str(len(r.body)))

    def test_size_counts_live_keys(self):
        self.assertEqual(self.size(), 0)
        for i in range(25):
            self.put(f"/s{i}", b"v")
        self.assertEqual(self.size(), 25)
        self.put("/s0", b"again")
        self.assertEqual(self.size(), 25)
        self.request("DELETE", "/s1")
        self.assertEqual(self.size(), 24)
        for m in ("POST", "GET"):
            r = self.request(m, "/size")
            self.assertStatus(r, 200, m)
            self.assertEqual(r.body.strip(), b"24", m)
        h = self.request("HEAD", "/size")
        self.assertStatus(h, 200)
        self.assertEqual(h.header("Content-Length"), str(len(b"24")))

    def test_reserved_paths_are_never_keys(self):
        r = self.request("POST", "/size", b"not-a-value")
        self.assertStatus(r, 200)
        self.assertEqual(r.body.strip(), b"0")
        self.assertEqual(self.size(), 0)
        self.assertStatus(self.request("POST", "/healthz", b"x"), 405)
        self.assertStatus(self.request("PUT", "/metrics", b"x"), 405)
        self.assertStatus(self.request("DELETE", "/healthz"), 405)
        self.assertEqual(self.size(), 0)
        self.assertEqual(self.request("GET", "/healthz").body.strip(), b"ok")

    def test_501_on_key_with_allow(self):
        # RFC 9110 9.1: a method kvd implements nowhere is 501 (with the path's Allow, as a 405).
        self.put("/k", b"v")
        c = self.connect()
        for m in ("PATCH", "PROPFIND", "TRACE"):
            with self.subTest(method=m):
                r = c.request(m, "/k")
                self.assertStatus(r, 501, m)
                self.assertEqual(allow_set(r), ALLOW_KEY, f"{m}: Allow header {r.header('Allow')!r}")
        self.assertKeptOpen(c, "after 501:")
        self.assertEqual(self.get("/k").body, b"v")

    def test_405_on_reserved_paths_with_allow(self):
        size = {"GET", "HEAD", "POST", "OPTIONS"}
        read_only = {"GET", "HEAD", "OPTIONS"}
        cases = [("DELETE", "/size", 405, size),
                 ("PUT", "/size", 405, size),
                 ("POST", "/metrics", 405, read_only),
                 ("DELETE", "/metrics", 405, read_only),
                 ("POST", "/healthz", 405, read_only),
                 ("PATCH", "/healthz", 501, read_only)]
        for m, path, status, allow in cases:
            with self.subTest(method=m, path=path):
                r = self.request(m, path, b"" if m in ("POST", "PUT", "PATCH") else None)
                self.assertStatus(r, status, f"{m} {path}")
                self.assertEqual(allow_set(r), allow, f"{m} {path}: Allow {r.header('Allow')!r}")


class ResponseHeadersTest(KvdTestCase):
    kvd_flags = ["--max-key-bytes=16", "--max-value-bytes=1024"]

    def check_headers(self, r, what: str, content_type: str = "text/plain; charset=utf-8"):
        for h in ("Date", "Content-Length", "Content-Type"):
            self.assertEqual(len(r.header_all(h)), 1, f"{what}: exactly one {h} header in {r!r}")
        self.assertRegex(r.header("Date"), IMF_FIXDATE, f"{what}: Date")
        self.assertIsNotNone(email.utils.parsedate_to_datetime(r.header("Date")))
        self.assertEqual(r.header("Content-Type").lower().replace(" ", ""),
                         content_type.lower().replace(" ", ""), f"{what}: Content-Type")
        self.assertEqual(r.version, "HTTP/1.1", f"{what}: status line version")

    def test_every_response_has_date_length_type(self):
        self.put("/k", b"v")
        self.put("/n", b"v")
        cases = [
            ("POST", "/k", b"value", 200),
            ("PUT", "/k", b"value", 200),
            ("GET", "/k", None, 200),
            ("GET", "/miss", None, 200),
            ("GET", "/size", None, 200),
            ("POST", "/size", b"", 200),
            ("GET", "/healthz", None, 200),
            ("DELETE", "/miss", None, 404),
            ("GET", "/", None, 400),
            ("GET", "/%zz", None, 400),
            ("POST", "/k?nx&xx", b"v", 400),
            ("POST", "/k?ttl=0", b"v", 400),
            ("PATCH", "/k", b"", 501),
            ("OPTIONS", "/k", None, 200),
            ("OPTIONS", "*", None, 200),
            ("PUT", "/created", b"v", 201),
            ("DELETE", "/size", None, 405),
            ("POST", "/n?nx", b"v", 412),
            ("POST", "/zz?xx", b"v", 412),
            ("GET", "/" + "k" * 17, None, 414),
        ]
        for m, path, body, status in cases:
            with self.subTest(method=m, path=path):
                r = self.request(m, path, body)
                self.assertStatus(r, status, f"{m} {path}")
                self.check_headers(r, f"{m} {path} -> {status}")
                self.assertEqual(r.header("Content-Length"), str(len(r.body)))

    def test_error_statuses_closing_connection_have_headers(self):
        c = self.connect()
        c.try_send(build_request("POST", "/big", b"x" * 2000))
        r = c.read_response()
        self.assertStatus(r, 413)
        self.check_headers(r, "413")
        c = self.connect()
        c.send(b"GET /k HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        r = c.read_response()
        self.assertStatus(r, 431)
        self.check_headers(r, "431")
        c = self.connect()
        c.send(b"BLAH\r\n\r\n")
        r = c.read_response()
        self.assertStatus(r, 400)
        self.check_headers(r, "400 malformed")

    def test_error_bodies_are_one_short_line(self):
        cases = [("GET", "/", None), ("GET", "/" + "k" * 17, None), ("POST", "/k?nx&xx", b"v")]
        for m, path, body in cases:
            with self.subTest(path=path):
                r = self.request(m, path, body)
                text = r.body.decode("utf-8")
                self.assertTrue(0 < len(text.strip()) <= 200, f"error body {r.body!r}")
                self.assertNotIn("\n", text.rstrip("\n"), f"error body is one line: {r.body!r}")


if __name__ == "__main__":
    unittest.main()

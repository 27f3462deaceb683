"""Validators, conditional requests and atomic increments (RFC 9110 8.8, 13; project issue 11),
against a real kvd:

  - every GET/HEAD hit and every stored write carries a strong ETag, which changes with every
    write and with nothing else; a tag from another run never matches;
  - If-None-Match on GET/HEAD: 304 with the ETag and no body when a tag matches (weakly) or for
    "*"; If-Match: 412 unless the current tag matches strongly ("*": exists), the old value staying;
    If-None-Match: * on a write stores only if absent; malformed fields are 400;
  - a race of conditional writes on one tag from many connections has exactly one winner;
  - ?incr: adds to the decimal value (a missing key is 0), 409 for a non-integer or an overflow,
    the write's TTL, nx/xx and If-Match combined; 8 clients x 500 pipelined increments sum
    exactly;
  - two clients users have: curl's --etag-save / --etag-compare, Python's http.client.
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from kvdtest import HttpConn, Kvd, KvdTestCase, build_request

TAG = re.compile(r'^"[0-9a-f]{16}"$')


class EtagTest(KvdTestCase):
    def tag(self, r) -> str:
        tags = r.header_all("etag")
        self.assertEqual(len(tags), 1, r)
        self.assertRegex(tags[0], TAG)
        return tags[0]

    def test_hits_and_writes_carry_a_tag_that_changes_with_every_write(self):
        w = self.request("POST", "/k", b"one")
        self.assertEqual(w.status, 200)
        t1 = self.tag(w)
        self.assertEqual(self.tag(self.get("/k")), t1)
        self.assertEqual(self.tag(self.request("HEAD", "/k")), t1)
        self.assertEqual(self.tag(self.get("/k")), t1)  # reads change nothing
        t2 = self.tag(self.request("POST", "/k", b"two"))  # same size: rewritten in place
        t3 = self.tag(self.request("POST", "/k", b"three"))
        t4 = self.tag(self.request("POST", "/k", b"three"))  # the same bytes again
        self.assertEqual(len({t1, t2, t3, t4}), 4)
        self.assertEqual(self.tag(self.get("/k")), t4)
        # A miss has no tag; neither do the reserved paths.
        self.assertEqual(self.get("/absent").header_all("etag"), [])
        self.assertEqual(self.get("/size").header_all("etag"), [])
        # PUT that creates: 201 with the tag.
        p = self.request("PUT", "/new", b"x")
        self.assertEqual(p.status, 201)
        self.tag(p)
        self.assertEqual(self.request("PUT", "/new", b"y").status, 200)

    def test_if_none_match_on_reads(self):
        t = self.tag(self.request("POST", "/r", b"value"))
        for field in (t, f"W/{t}", f'"other", {t}', "*", f" {t} ,"):
            with self.subTest(field=field):
                r = self.request("GET", "/r", headers={"If-None-Match": field})
                self.assertEqual(r.status, 304)
                self.assertEqual(r.body, b"")
                self.assertEqual(self.tag(r), t)
                self.assertEqual(r.header_all("content-length"), [])
                self.assertEqual(self.request("HEAD", "/r", headers={"If-None-Match": field}).status, 304)
        for field in ('"0000000000000000"', '"other"', "W/\"x\""):
            r = self.request("GET", "/r", headers={"If-None-Match": field})
            self.assertEqual((r.status, r.body), (200, b"value"))
        # A miss: no current value, so If-None-Match holds, and the answer is the usual miss.
        self.assertEqual(self.request("GET", "/none", headers={"If-None-Match": "*"}).status, 200)

    def test_if_match_guards_writes_and_deletes(self):
        t1 = self.tag(self.request("POST", "/w", b"v1"))
        r = self.request("POST", "/w", b"v2", headers={"If-Match": t1})
        self.assertEqual(r.status, 200)
        t2 = self.tag(r)
        # The old tag no longer matches: 412, and the value stays.
        r = self.request("POST", "/w", b"v3", headers={"If-Match": t1})
        self.assertEqual(r.status, 412)
        self.assertIn(b"precondition", r.body)
        self.assertEqual(self.get("/w").body, b"v2")
        # Strong comparison: a weak tag never matches.
        self.assertEqual(self.request("POST", "/w", b"v3", headers={"If-Match": f"W/{t2}"}).status, 412)
        self.assertEqual(self.request("POST", "/w", b"v3", headers={"If-Match": f'"x", {t2}'}).status, 200)
        # "*": the key must exist.
        self.assertEqual(self.request("POST", "/absent", b"x", headers={"If-Match": "*"}).status, 412)
        self.assertEqual(self.get("/absent").body, b"")
        self.assertEqual(self.request("POST", "/w", b"v4", headers={"If-Match": "*"}).status, 200)
        # If-Match on a read: 412 when it does not hold.
        self.assertEqual(self.request("GET", "/w", headers={"If-Match": t1}).status, 412)
        self.assertEqual(self.request("GET", "/absent", headers={"If-Match": "*"}).status, 412)
        # Deletes.
        t = self.tag(self.get("/w"))
        self.assertEqual(self.request("DELETE", "/w", headers={"If-Match": t1}).status, 412)
        self.assertEqual(self.get("/w").body, b"v4")
        self.assertEqual(self.request("DELETE", "/w", headers={"If-Match": t}).status, 204)
        self.assertEqual(self.request("DELETE", "/w", headers={"If-Match": "*"}).status, 412)

    def test_if_none_match_star_on_a_write_creates_only(self):
        self.assertEqual(self.request("PUT", "/once", b"first", headers={"If-None-Match": "*"}).status, 201)
        r = self.request("PUT", "/once", b"second", headers={"If-None-Match": "*"})
        self.assertEqual(r.status, 412)
        self.assertEqual(self.get("/once").body, b"first")
        # A tag list on a write: store unless the current tag is listed.
        t = self.tag(self.get("/once"))
        self.assertEqual(self.request("POST", "/once", b"x", headers={"If-None-Match": t}).status, 412)
        self.assertEqual(self.request("POST", "/once", b"x", headers={"If-None-Match": '"other"'}).status, 200)

    def test_malformed_conditions_are_refused(self):
        self.request("POST", "/m", b"v")
        for name in ("If-Match", "If-None-Match"):
            for field in ("abc", '"unterminated', '*, "x"', 'W/abc', '"a" "b"', ","):
                with self.subTest(name=name, field=field):
                    r = self.request("POST", "/m", b"new", headers={name: field})
                    self.assertEqual(r.status, 400)
                    self.assertIn(name.encode(), r.body)
        self.assertEqual(self.get("/m").body, b"v")
        # The connection stays: the request was well framed.
        with self.connect() as c:
            r = c.request("GET", "/m", headers={"If-Match": "abc"})
            self.assertEqual(r.status, 400)
            self.assertEqual(c.request("GET", "/m").body, b"v")

    def test_a_tag_from_another_run_never_matches(self):
        other = Kvd(["--threads=1"])
        other.start()
        try:
            with HttpConn(other.port) as c:
                t_other = self.tag(c.request("POST", "/same", b"v"))
        finally:
            other.stop()
        t = self.tag(self.request("POST", "/same", b"v"))
        self.assertNotEqual(t, t_other)
        self.assertEqual(self.request("POST", "/same", b"w", headers={"If-Match": t_other}).status, 412)


class CompareAndSetRaceTest(KvdTestCase):
    kvd_flags = ["--threads=2"]

    def test_one_winner_of_many_writes_on_one_tag(self):
        for round_ in range(20):
            key = f"/race{round_}"
            tag = self.request("POST", key, b"start").header_all("etag")[0]
            conns = [self.connect() for _ in range(16)]
            barrier = threading.Barrier(len(conns))
            statuses: list[int] = []
            lock = threading.Lock()

            def write(i: int, c: HttpConn) -> None:
                req = build_request("POST", key, f"writer {i}".encode(), {"If-Match": tag})
                barrier.wait()
                c.send(req)
                r = c.read_response()
                with lock:
                    statuses.append(r.status)

            threads = [threading.Thread(target=write, args=(i, c)) for i, c in enumerate(conns)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            for c in conns:
                c.close()
            self.assertEqual(sorted(statuses), [200] + [412] * 15, f"round {round_}")
            self.assertRegex(self.get(key).body.decode(), r"^writer \d+$")


class IncrTest(KvdTestCase):
    kvd_flags = ["--ttl=1h", "--threads=2"]

    def test_increments(self):
        self.assertEqual(self.request("POST", "/c?incr=5").body, b"5")
        self.assertEqual(self.request("POST", "/c?incr=-7").body, b"-2")
        self.assertEqual(self.request("POST", "/c?incr").body, b"-1")
        self.assertEqual(self.request("POST", "/c?incr=0").body, b"-1")
        self.assertEqual(self.get("/c").body, b"-1")
        # The answer carries the new value's tag.
        r = self.request("POST", "/c?incr=1")
        self.assertEqual(r.body, b"0")
        self.assertEqual(r.header_all("etag"), self.get("/c").header_all("etag"))

    def test_refusals_leave_the_value(self):
        self.request("POST", "/s", b"abc")
        r = self.request("POST", "/s?incr")
        self.assertEqual(r.status, 409)
        self.assertIn(b"integer", r.body)
        self.assertEqual(self.get("/s").body, b"abc")
        for v in (b"007", b"+1", b" 1", b"1.5", b""):
            self.request("POST", "/s", v)
            self.assertEqual(self.request("POST", "/s?incr").status, 409, v)
            self.assertEqual(self.get("/s").body, v)
        self.request("POST", "/big", b"9223372036854775807")
        r = self.request("POST", "/big?incr")
        self.assertEqual(r.status, 409)
        self.assertIn(b"overflow", r.body)
        self.assertEqual(self.get("/big").body, b"9223372036854775807")
        self.request("POST", "/small", b"-9223372036854775808")
        self.assertEqual(self.request("POST", "/small?incr=-1").status, 409)
        for bad in ("abc", "1.5", "9223372036854775808", "+1", "", "--1"):
            self.assertEqual(self.request("POST", f"/c?incr={bad}").status, 400, bad)
        self.assertEqual(self.request("POST", "/c?incr=1", b"a body").status, 400)

    def test_ttl_and_conditions(self):
        self.request("POST", "/t?incr=1&ttl=300ms")
        time.sleep(0.5)
        self.assertEqual(self.get("/t").body, b"")
        self.assertEqual(self.request("POST", "/t?incr=2").body, b"2")  # expired: counted as 0
        # nx: only if absent (then it starts from 0); xx: only if present.
        self.assertEqual(self.request("POST", "/t?incr=1&nx").status, 412)
        self.assertEqual(self.request("POST", "/fresh?incr=3&nx").body, b"3")
        self.assertEqual(self.request("POST", "/none?incr=1&xx").status, 412)
        self.assertEqual(self.get("/none").body, b"")
        self.assertEqual(self.request("POST", "/t?incr=1&xx").body, b"3")
        # If-Match.
        tag = self.get("/t").header_all("etag")[0]
        self.assertEqual(self.request("POST", "/t?incr=10", headers={"If-Match": '"0000000000000000"'}).status, 412)
        self.assertEqual(self.request("POST", "/t?incr=10", headers={"If-Match": tag}).body, b"13")
        self.assertEqual(self.request("POST", "/t?incr=10", headers={"If-Match": tag}).status, 412)

    def test_concurrent_pipelined_increments_sum_exactly(self):
        clients, per_client = 8, 500
        errors: list[str] = []

        def run(i: int) -> None:
            try:
                with self.connect(timeout=30) as c:
                    c.send(b"".join(build_request("POST", "/sum?incr=3") for _ in range(per_client)))
                    for _ in range(per_client):
                        r = c.read_response()
                        if r.status != 200:
                            errors.append(f"client {i}: {r.status}")
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(f"client {i}: {e}")

        threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.assertEqual(errors, [])
        self.assertEqual(self.get("/sum").body, str(clients * per_client * 3).encode())


class RealClientsTest(KvdTestCase):
    @unittest.skipUnless(shutil.which("curl"), "curl not installed")
    def test_curl_etag_save_and_compare(self):
        self.request("POST", "/doc", b"version 1")
        url = f"http://127.0.0.1:{self.port}/doc"
        with tempfile.TemporaryDirectory() as d:
            etag = os.path.join(d, "etag")
            out = subprocess.run(["curl", "-s", "--etag-save", etag, url], capture_output=True, timeout=10)
            self.assertEqual(out.stdout, b"version 1")
            saved = open(etag).read().strip()
            self.assertRegex(saved, TAG)
            code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--etag-compare", etag, url],
                                  capture_output=True, timeout=10).stdout
            self.assertEqual(code, b"304")
            self.request("POST", "/doc", b"version 2")
            out = subprocess.run(["curl", "-s", "--etag-compare", etag, url], capture_output=True, timeout=10)
            self.assertEqual(out.stdout, b"version 2")

    def test_python_http_client_conditional_write(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request("POST", "/py", body=b"a")
            r = c.getresponse()
            r.read()
            tag = r.getheader("ETag")
            self.assertRegex(tag, TAG)
            c.request("GET", "/py", headers={"If-None-Match": tag})
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (304, b""))
            c.request("PUT", "/py", body=b"b", headers={"If-Match": tag})
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            c.request("PUT", "/py", body=b"c", headers={"If-Match": tag})
            r = c.getresponse()
            self.assertEqual(r.status, 412)
            r.read()
            c.request("GET", "/py")
            self.assertEqual(c.getresponse().read(), b"b")
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main()

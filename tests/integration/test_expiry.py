"""Expiry: the ttl query parameter, --ttl, /size never counting expired keys, rewrites."""
from __future__ import annotations

import time
import unittest

from kvdtest import KvdTestCase, build_request


def sleep_until(t: float) -> None:
    d = t - time.monotonic()
    if d > 0:
        time.sleep(d)


class TtlParamTest(KvdTestCase):

    def test_ttl_300ms(self):
        r = self.put("/t?ttl=300ms", b"short")
        t0 = time.monotonic()
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"short")
        sleep_until(t0 + 0.1)
        self.assertEqual(self.get("/t").body, b"short", "present before its TTL")
        self.assertEqual(self.size(), 1)
        sleep_until(t0 + 0.6)
        r = self.get("/t")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"", "gone after its TTL")
        self.assertEqual(self.size(), 0)

    def test_ttl_with_other_params(self):
        self.assertStatus(self.put("/t?foo=1&ttl=300ms&bar", b"v"), 200)
        self.assertStatus(self.put("/u?nx&ttl=300ms", b"v"), 200)
        t0 = time.monotonic()
        self.assertEqual(self.size(), 2)
        sleep_until(t0 + 0.65)
        self.assertEqual(self.size(), 0)

    def test_fractional_seconds(self):
        self.put("/f?ttl=0.3s", b"v")
        t0 = time.monotonic()
        self.assertEqual(self.get("/f").body, b"v")
        sleep_until(t0 + 0.65)
        self.assertEqual(self.get("/f").body, b"")

    def test_bare_number_is_seconds(self):
        self.assertStatus(self.put("/b?ttl=1", b"v"), 200)
        t0 = time.monotonic()
        sleep_until(t0 + 0.6)
        self.assertEqual(self.get("/b").body, b"v", "ttl=1 means one second, not 1 ms")
        sleep_until(t0 + 1.35)
        self.assertEqual(self.get("/b").body, b"", "ttl=1 means one second, not minutes")

    def test_valid_units_accepted(self):
        for ttl in ("500ms", "1.5s", "2m", "1h", "576h", "30"):
            with self.subTest(ttl=ttl):
                r = self.put(f"/u?ttl={ttl}", b"v-" + ttl.encode())
                self.assertStatus(r, 200, f"ttl={ttl}")
                self.assertEqual(self.get("/u").body, b"v-" + ttl.encode())

    def test_bad_ttl_is_400_and_kept(self):
        c = self.connect()
        for ttl in ("0", "0s", "0ms", "-1s", "abc", "10x", "1d", "577h", "99999999h"):
            with self.subTest(ttl=ttl):
                r = c.request("POST", f"/bad?ttl={ttl}", b"v")
                self.assertStatus(r, 400, f"ttl={ttl}")
        self.assertKeptOpen(c, "after bad ttl:")
        self.assertEqual(self.size(), 0, "a write with a bad ttl must not store anything")

    def test_own_ttl_overrides_default_upwards(self):
        self.put("/long?ttl=10s", b"v")
        self.assertEqual(self.get("/long").body, b"v")


class DefaultTtlTest(KvdTestCase):
    kvd_flags = ["--ttl=300ms"]

    def test_default_ttl_applies(self):
        self.put("/d", b"v")
        t0 = time.monotonic()
        sleep_until(t0 + 0.1)
        self.assertEqual(self.get("/d").body, b"v")
        sleep_until(t0 + 0.65)
        self.assertEqual(self.get("/d").body, b"")

    def test_size_excludes_expired(self):
        c = self.connect()
        c.send(b"".join(build_request("POST", f"/k{i}", b"value%d" % i) for i in range(50)))
        for r in c.read_responses(50):
            self.assertStatus(r, 200)
        t0 = time.monotonic()
        self.assertEqual(self.size(c), 50)
        sleep_until(t0 + 0.8)
        # Even if the wheel has not reclaimed them yet, /size never counts expired keys.
        self.assertEqual(self.size(c), 0)
        self.assertEqual(self.request("GET", "/k7").body, b"")

    def test_own_ttl_longer_than_default(self):
        self.put("/long?ttl=5s", b"L")
        self.put("/short", b"S")
        t0 = time.monotonic()
        sleep_until(t0 + 0.7)
        self.assertEqual(self.get("/long").body, b"L")
        self.assertEqual(self.get("/short").body, b"")
        self.assertEqual(self.size(), 1)

    def test_nx_on_expired_key_stores(self):
        self.put("/n", b"old")
        t0 = time.monotonic()
        self.assertStatus(self.put("/n?nx", b"x"), 412)
        sleep_until(t0 + 0.6)
        r = self.put("/n?nx", b"new")
        self.assertStatus(r, 200, "nx on an expired key stores")
        self.assertEqual(self.get("/n").body, b"new")

    def test_xx_on_expired_key_is_412(self):
        self.put("/x", b"old")
        t0 = time.monotonic()
        sleep_until(t0 + 0.6)
        r = self.put("/x?xx", b"new")
        self.assertStatus(r, 412, "xx on an expired key")
        self.assertEqual(self.get("/x").body, b"")

    def test_delete_expired_is_404(self):
        self.put("/e", b"v")
        t0 = time.monotonic()
        sleep_until(t0 + 0.6)
        self.assertStatus(self.request("DELETE", "/e"), 404)

    def test_head_expired_is_miss(self):
        self.put("/h", b"value")
        t0 = time.monotonic()
        sleep_until(t0 + 0.6)
        r = self.request("HEAD", "/h")
        self.assertStatus(r, 200)
        self.assertEqual(r.header("Content-Length"), "0")


class RewriteDeadlineTest(KvdTestCase):
    kvd_flags = ["--ttl=400ms"]

    def test_rewrite_moves_deadline(self):
        c = self.connect()
        self.assertStatus(c.request("POST", "/r", b"one"), 200)
        t0 = time.monotonic()
        sleep_until(t0 + 0.2)
        self.assertStatus(c.request("POST", "/r", b"two"), 200)
        sleep_until(t0 + 0.45)
        self.assertEqual(c.request("GET", "/r").body, b"two",
                         "a rewrite at 200ms with ttl 400ms keeps the key until ~600ms")
        self.assertEqual(self.size(c), 1)
        sleep_until(t0 + 0.8)
        self.assertEqual(c.request("GET", "/r").body, b"")
        self.assertEqual(self.size(c), 0)

    def test_rewrite_with_own_ttl_shortens(self):
        self.put("/s", b"v")
        self.put("/s?ttl=100ms", b"v2")
        t0 = time.monotonic()
        sleep_until(t0 + 0.3)
        self.assertEqual(self.get("/s").body, b"", "the rewrite's own 100ms TTL applies")

    def test_rewrite_without_ttl_uses_default(self):
        self.put("/s?ttl=100ms", b"v")
        self.put("/s", b"v2")
        t0 = time.monotonic()
        sleep_until(t0 + 0.25)
        self.assertEqual(self.get("/s").body, b"v2", "the rewrite gets the default 400ms TTL")


if __name__ == "__main__":
    unittest.main()

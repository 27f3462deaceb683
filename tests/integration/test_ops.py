"""Operations: --auth-token access control, KVD_* environment variables, --help and --version."""
from __future__ import annotations

import os
import re
import subprocess
import unittest

from kvdtest import KVD_BIN, Kvd, KvdTestCase, build_request

TOKEN = "s3cret-token"


class AuthTokenTest(KvdTestCase):
    kvd_flags = [f"--auth-token={TOKEN}"]

    def auth(self, token: str = TOKEN) -> dict:
        return {"Authorization": f"Bearer {token}"}

    def test_keys_and_size_need_the_token(self):
        for method, target, body in (("GET", "/k", None), ("POST", "/k", b"v"), ("DELETE", "/k", None),
                                     ("GET", "/size", None), ("POST", "/size", None)):
            with self.subTest(method=method, target=target):
                r = self.request(method, target, body)
                self.assertStatus(r, 401)
                self.assertIn("Bearer", r.header("WWW-Authenticate") or "")
                r = self.request(method, target, body, headers=self.auth("wrong"))
                self.assertStatus(r, 401)
                r = self.request(method, target, body, headers=self.auth(TOKEN + "x"))
                self.assertStatus(r, 401)

    def test_right_token_is_served(self):
        r = self.request("POST", "/k", b"v1", headers=self.auth())
        self.assertStatus(r, 200)
        r = self.request("GET", "/k", headers={"Authorization": f"bearer {TOKEN}"})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"v1")
        r = self.request("GET", "/size", headers=self.auth())
        self.assertEqual(r.body, b"1")

    def test_unauthorized_write_stores_nothing(self):
        self.request("POST", "/k2", b"nope")
        r = self.request("GET", "/k2", headers=self.auth())
        self.assertEqual(r.body, b"")

    def test_each_pipelined_request_gets_its_own_verdict(self):
        # One write: the requests are answered as one batch (the token is checked as each
        # arrives); every one must get its own token's answer, in order, and the refused writes
        # must store nothing.
        good, bad = self.auth(), self.auth("wrong")
        batch = [("POST", "/p1", b"a", good), ("POST", "/p2", b"b", bad), ("POST", "/p3", b"c", {}),
                 ("GET", "/p1", None, good), ("GET", "/p1", None, bad), ("GET", "/p1", None, {}),
                 ("GET", "/size", None, good), ("GET", "/size", None, bad), ("GET", "/p1", None, good)]
        for rounds in (1, 3):
            with self.subTest(rounds=rounds):
                c = self.connect()
                c.send(b"".join(build_request(m, t, b, headers=h) for m, t, b, h in batch) * rounds)
                got = [(r.status, r.body) for r in c.read_responses(len(batch) * rounds)]
                want = [(200, b"a"), (401, None), (401, None), (200, b"a"), (401, None), (401, None),
                        (200, b"1"), (401, None), (200, b"a")] * rounds
                self.assertEqual([(s, b) if w is not None else s for (s, b), (_, w) in zip(got, want)],
                                 [(s, w) if w is not None else s for s, w in want])
        for k in ("/p2", "/p3"):
            self.assertEqual(self.request("GET", k, headers=self.auth()).body, b"")

    def test_metrics_and_healthz_stay_open(self):
        self.assertStatus(self.request("GET", "/metrics"), 200)
        self.assertStatus(self.request("GET", "/healthz"), 200)


class AuthMetricsTest(KvdTestCase):
    kvd_flags = [f"--auth-token={TOKEN}", "--auth-metrics"]

    def test_metrics_and_healthz_need_the_token(self):
        for target in ("/metrics", "/healthz"):
            with self.subTest(target=target):
                self.assertStatus(self.request("GET", target), 401)
                r = self.request("GET", target, headers={"Authorization": f"Bearer {TOKEN}"})
                self.assertStatus(r, 200)


class EnvironmentTest(KvdTestCase):
    start_kvd = False

    def start_with_env(self, env: dict, flags: list[str] | None = None) -> Kvd:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            return self.start_server(flags or [])
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def test_flags_from_environment(self):
        k = self.start_with_env({"KVD_TTL": "1500ms", "KVD_MISS_STATUS": "404"})
        self.assertIn("cache expire time: 1500ms", k.stderr())
        r = self.request("GET", "/absent", port=k.port)
        self.assertStatus(r, 404)

    def test_command_line_overrides_environment(self):
        k = self.start_with_env({"KVD_TTL": "1500ms"}, ["--ttl=2s"])
        self.assertIn("cache expire time: 2000ms", k.stderr())

    def test_auth_token_from_environment(self):
        k = self.start_with_env({"KVD_AUTH_TOKEN": TOKEN})
        self.assertStatus(self.request("GET", "/k", port=k.port), 401)

    def test_bad_environment_value_is_refused(self):
        env = dict(os.environ, KVD_MISS_STATUS="302")
        p = subprocess.run([KVD_BIN, "--port=0", "--bind=127.0.0.1"], env=env, capture_output=True,
                           timeout=10, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--miss-status", p.stderr)


class CommandLineTest(unittest.TestCase):

    def test_version(self):
        p = subprocess.run([KVD_BIN, "--version"], capture_output=True, timeout=10, text=True)
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^kvd \d+\.\d+\.\d+")

    def test_help_lists_every_flag_with_default(self):
        p = subprocess.run([KVD_BIN, "--help"], capture_output=True, timeout=10, text=True)
        out = p.stdout + p.stderr
        for flag in ("port", "bind", "threads", "shards", "ttl", "max_key_bytes", "max_value_bytes",
                     "max_memory", "miss_status", "max_connections", "max_header_bytes",
                     "max_output_bytes", "idle_timeout", "header_timeout", "shutdown_timeout",
                     "log_level", "auth_token", "auth_metrics"):
            with self.subTest(flag=flag):
                m = re.search(r"--" + flag + r" \(.*?\); default: ", out, re.S)
                self.assertIsNotNone(m, f"--{flag} with its default not in --help output")

    def test_unknown_flag_is_an_error(self):
        p = subprocess.run([KVD_BIN, "--no-such-flag=1"], capture_output=True, timeout=10, text=True)
        self.assertNotEqual(p.returncode, 0)


if __name__ == "__main__":
    unittest.main()

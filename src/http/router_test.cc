#include "http/router.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kvd::http {
namespace {


constexpr uint64_t kStart = 1000;  // the fake clock's first reading, in ms

// One parsed response.
struct Resp {
  int status = 0;
  std::string raw, head, body;
  Handler handler = Handler::kOther;

  // The value of header `name` (exact case as kvd writes it), or "<absent>".
  std::string Header(std::string_view name) const {
    std::string key = "\r\n" + std::string(name) + ": ";
    size_t at = head.find(key);
    if (at == std::string::npos) return "<absent>";
    size_t from = at + key.size();
    return head.substr(from, head.find("\r\n", from) - from);
  }
};

// A router over a real store, with a fake clock: every request passes its own now_ms.
struct Fixture {
  Config config;
  store::Store store{2, uint64_t(1) << 30, kStart};
  metrics::ReactorMetrics m;
  std::vector<const metrics::ReactorMetrics*> reactors{&m};
  Router router{&config, &store, &reactors};
  http::DateCache date;
  std::string scratch;

  bool prefetch = false;  // hand Handle the key Prefetch returns

  Fixture() { date.Update(784111777); }

  Resp Do(Method method, std::string_view target, std::string_view body = "", uint64_t now = kStart,
          std::string_view authorization = "", bool close = false, const char* method_name = nullptr) {
    http::Request req;
    req.method = method;
    req.method_name = method_name ? method_name : Name(method);
    req.target = target;
    req.body = body;
    req.authorization = authorization;
    req.keep_alive = !close;
    Buffer out;
    Router::Context ctx{now, &out, &date, &m, &scratch, close};
    store::HashedKey key;
    if (prefetch) {  // as a connection that defers the request does
      key = router.Prefetch(req);
      ctx.key = &key;
    }
    Router::Outcome o = router.Handle(req, ctx);
    Resp r;
    r.raw = out.view();
    size_t end = r.raw.find("\r\n\r\n");
    REQUIRE(end != std::string::npos);
    r.head = r.raw.substr(0, end + 2);
    r.body = r.raw.substr(end + 4);
    REQUIRE(r.raw.substr(0, 9) == "HTTP/1.1 ");
    r.status = std::stoi(r.raw.substr(9, 3));
    CHECK(o.status == r.status);  // what the reactor counts is what was sent
    r.handler = o.handler;
    // Every response has a Date and a Content-Type; all but 204 a Content-Length, matching the
    // body (or, for HEAD, the body a GET would have had).
    CHECK(r.Header("Date") == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(r.Header("Content-Type") != "<absent>");
    if (r.status == 204) {
      CHECK(r.Header("Content-Length") == "<absent>");
      CHECK(r.body.empty());
    } else if (method == Method::kHead) {
      CHECK(r.body.empty());
    } else {
      CHECK(r.Header("Content-Length") == std::to_string(r.body.size()));
    }
    CHECK(r.Header("Connection") == (close ? "close" : "<absent>"));
    return r;
  }

  Resp Get(std::string_view target, uint64_t now = kStart) { return Do(Method::kGet, target, "", now); }
  Resp Post(std::string_view target, std::string_view body, uint64_t now = kStart) {
    return Do(Method::kPost, target, body, now);
  }

  static const char* Name(Method m) {
    switch (m) {
      case Method::kGet: return "GET";
      case Method::kHead: return "HEAD";
      case Method::kPost: return "POST";
      case Method::kPut: return "PUT";
      case Method::kDelete: return "DELETE";
      case Method::kOptions: return "OPTIONS";
      case Method::kOther: return "PATCH";
      case Method::kCount: break;
    }
    return "?";
  }
};

TEST_CASE("Router: GET of a missing key is 200 empty, or 404 with --miss-status=404") {
  Fixture f;
  Resp r = f.Get("/nope");
  CHECK(r.status == 200);
  CHECK(r.body.empty());
  CHECK(r.Header("Content-Length") == "0");
  CHECK(r.Header("Content-Type") == "text/plain; charset=utf-8");
  CHECK(r.handler == Handler::kKey);

  f.config.miss_status = 404;
  r = f.Get("/nope");
  CHECK(r.status == 404);
  CHECK(r.body.empty());
  CHECK(r.Header("Content-Length") == "0");
}

TEST_CASE("Router: POST and PUT store and echo the value; GET returns it") {
  Fixture f;
  Resp r = f.Post("/k1", "v1");
  CHECK(r.status == 200);
  CHECK(r.body == "v1");
  CHECK(r.handler == Handler::kKey);
  CHECK(f.Get("/k1").body == "v1");

  r = f.Do(Method::kPut, "/k1", "second");
  CHECK(r.status == 200);
  CHECK(r.body == "second");
  CHECK(f.Get("/k1").body == "second");

  // RFC 9110 9.3.4: a PUT that creates the key is 201 (a POST keeps the seed's 200).
  r = f.Do(Method::kPut, "/new", "n1");
  CHECK(r.status == 201);
  CHECK(r.body == "n1");
  CHECK(f.Get("/new").body == "n1");
  CHECK(f.Do(Method::kPut, "/new", "n2").status == 200);
  CHECK(f.Get("/new").body == "n2");
  CHECK(f.Post("/new-by-post", "p").status == 200);
  // ... also once the old value has expired (it is no representation any more).
  CHECK(f.Do(Method::kPut, "/new", "n3", kStart + f.config.ttl_ms).status == 201);

  // Binary-safe, empty values are values.
  std::string bin("\0\r\n\xff\x01", 5);
  CHECK(f.Post("/bin", bin).body == bin);
  CHECK(f.Get("/bin").body == bin);
  CHECK(f.Post("/empty", "").status == 200);
  r = f.Get("/empty");
  CHECK(r.status == 200);
  CHECK(r.body.empty());

  // The query is not part of the key; absolute-form targets name the same key.
  f.Post("/q?foo=bar", "qv");
  CHECK(f.Get("/q").body == "qv");
  CHECK(f.Get("/q?x=1").body == "qv");
  CHECK(f.Get("http://example.com/q").body == "qv");

  // Keys are percent-decoded; either hex case is the same key; '+' stays a plus.
  f.Post("/a%20b", "space");
  CHECK(f.Get("/a%20b").body == "space");
  CHECK(f.Get("/a b").body == "space");
  f.Post("/%2f", "slash");
  CHECK(f.Get("/%2F").body == "slash");
  CHECK(f.Get("//").body == "slash");
  f.Post("/a+b", "plus");
  CHECK(f.Get("/a%2Bb").body == "plus");
  CHECK(f.Get("/a%20b").body == "space");

  // Keys are case-sensitive and distinct.
  CHECK(f.Get("/K1").body.empty());
}

TEST_CASE("Router: HEAD is GET without the body") {
  Fixture f;
  f.Post("/k", "hello");
  Resp r = f.Do(Method::kHead, "/k");
  CHECK(r.status == 200);
  CHECK(r.body.empty());
  CHECK(r.Header("Content-Length") == "5");
  CHECK(r.raw.size() == r.head.size() + 2);

  r = f.Do(Method::kHead, "/missing");
  CHECK(r.status == 200);
  CHECK(r.Header("Content-Length") == "0");
  f.config.miss_status = 404;
  CHECK(f.Do(Method::kHead, "/missing").status == 404);
}

TEST_CASE("Router: DELETE is 204 when the key was there, 404 when not") {
  Fixture f;
  f.Post("/k", "v");
  Resp r = f.Do(Method::kDelete, "/k");
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  CHECK(r.raw.find("Content-Length") == std::string::npos);
  CHECK(f.Get("/k").body.empty());
  r = f.Do(Method::kDelete, "/k");
  CHECK(r.status == 404);
  CHECK(r.body.empty());
  // An expired key is not there.
  f.Post("/e?ttl=10ms", "v");
  CHECK(f.Do(Method::kDelete, "/e", "", kStart + 10).status == 404);
}

TEST_CASE("Router: nx and xx") {
  Fixture f;
  // xx on an absent key: 412, nothing stored.
  Resp r = f.Post("/k?xx", "v0");
  CHECK(r.status == 412);
  CHECK(r.body == "key does not exist");
  CHECK(f.Get("/k").body.empty());
  // nx on an absent key stores.
  r = f.Post("/k?nx", "v1");
  CHECK(r.status == 200);
  CHECK(r.body == "v1");
  // nx on a present key: 412, value kept.
  r = f.Do(Method::kPut, "/k?nx", "v2");
  CHECK(r.status == 412);
  CHECK(r.body == "key exists");
  CHECK(f.Get("/k").body == "v1");
  // xx on a present key stores.
  r = f.Do(Method::kPut, "/k?xx", "v3");
  CHECK(r.status == 200);
  CHECK(r.body == "v3");
  CHECK(f.Get("/k").body == "v3");
  // Both: 400.
  r = f.Post("/k?nx&xx", "v4");
  CHECK(r.status == 400);
  CHECK(r.body == "nx and xx cannot be combined");
  CHECK(f.Get("/k").body == "v3");
  // nx on an expired key stores; xx on one fails.
  f.Post("/t?ttl=5ms", "old");
  CHECK(f.Post("/t?xx", "x", kStart + 5).status == 412);
  CHECK(f.Post("/t?nx", "new", kStart + 5).status == 200);
  CHECK(f.Get("/t", kStart + 5).body == "new");
}

TEST_CASE("Router: a key expires exactly ttl after its last write") {
  Fixture f;
  f.config.ttl_ms = 10000;
  // The fake clock only moves forward: each part starts at its own time t.
  uint64_t t = kStart;
  SUBCASE("the default ttl") {
    f.Post("/d", "v", t);
    CHECK(f.Get("/d", t + 9999).body == "v");
    CHECK(f.Get("/d", t + 10000).body.empty());
    CHECK(f.Get("/d", t + 10000).status == 200);
  }
  SUBCASE("its own ttl") {
    f.Post("/t?ttl=500ms", "v", t);
    CHECK(f.Get("/t", t + 499).body == "v");
    Resp r = f.Get("/t", t + 500);
    CHECK(r.status == 200);
    CHECK(r.body.empty());
    f.config.miss_status = 404;
    CHECK(f.Get("/t", t + 501).status == 404);
  }
  SUBCASE("a rewrite restarts the clock, with the new write's ttl") {
    f.Post("/r?ttl=1s", "a", t);
    f.Post("/r?ttl=2s", "b", t + 900);
    CHECK(f.Get("/r", t + 2899).body == "b");
    CHECK(f.Get("/r", t + 2900).body.empty());
    f.Post("/r2?ttl=1h", "a", t + 3000);
    f.Post("/r2", "b", t + 3001);  // back to the default
    CHECK(f.Get("/r2", t + 13000).body == "b");
    CHECK(f.Get("/r2", t + 13001).body.empty());
  }
  SUBCASE("fractions and bare seconds, rounded up to the ms") {
    f.Post("/f?ttl=1.5", "v", t);
    f.Post("/u?ttl=1us", "v", t);
    f.Post("/m?ttl=2m", "v", t);
    CHECK(f.Get("/u", t).body == "v");
    CHECK(f.Get("/u", t + 1).body.empty());
    CHECK(f.Get("/f", t + 1499).body == "v");
    CHECK(f.Get("/f", t + 1500).body.empty());
    CHECK(f.Get("/m", t + 119999).body == "v");
    CHECK(f.Get("/m", t + 120000).body.empty());
  }
  SUBCASE("bad ttls are 400 and store nothing") {
    for (std::string_view bad : {"/b?ttl=0", "/b?ttl=-1s", "/b?ttl=abc", "/b?ttl=", "/b?ttl=2073600001ms",
                            "/b?ttl=25d", "/b?nx&ttl=x"}) {
      CAPTURE(bad);
      Resp r = f.Post(bad, "v", t);
      CHECK(r.status == 400);
      CHECK(r.body == "invalid ttl: use a duration such as 500ms, 30s, 2m, or a number of seconds");
    }
    CHECK(f.Get("/b", t).body.empty());
  }
  SUBCASE("the maximum ttl is accepted") {
    CHECK(f.Post("/max?ttl=576h", "v", t).status == 200);
    CHECK(f.Get("/max", t + 2073600000 - 1).body == "v");
    CHECK(f.Get("/max", t + 2073600000).body.empty());
  }
}

TEST_CASE("Router: /size counts live keys exactly") {
  Fixture f;
  f.config.ttl_ms = 10000;
  auto size = [&f](uint64_t now, Method m = Method::kGet) {
    Resp r = f.Do(m, "/size", "", now);
    CHECK(r.status == 200);
    CHECK(r.handler == Handler::kSize);
    return r.body;
  };
  CHECK(size(kStart) == "0");
  f.Post("/a?ttl=100ms", "1", kStart);
  f.Post("/b?ttl=200ms", "2", kStart);
  f.Post("/c", "3", kStart);
  f.Post("/c", "3again", kStart);  // a rewrite is still one key
  CHECK(size(kStart) == "3");
  CHECK(size(kStart + 99, Method::kPost) == "3");  // POST /size is a read, as in the seed
  CHECK(size(kStart + 100) == "2");
  CHECK(size(kStart + 199) == "2");
  CHECK(size(kStart + 200) == "1");
  f.Do(Method::kDelete, "/c", "", kStart + 200);
  CHECK(size(kStart + 200) == "0");
  // Many keys, across both shards, expiring at different times.
  for (int i = 0; i < 1000; ++i) f.Post("/k" + std::to_string(i) + "?ttl=" + std::to_string(i + 1) + "ms", "v", kStart + 300);
  CHECK(size(kStart + 300) == "1000");
  CHECK(size(kStart + 300 + 1) == "999");
  CHECK(size(kStart + 300 + 500) == "500");
  CHECK(size(kStart + 300 + 1000) == "0");

  // HEAD /size: the length of the number, no body.
  f.Post("/x", "12345", kStart + 2000);
  Resp r = f.Do(Method::kHead, "/size", "", kStart + 2000);
  CHECK(r.status == 200);
  CHECK(r.Header("Content-Length") == "1");
  CHECK(r.body.empty());
  // /size is not a key: writing to it is 405, and it never becomes one.
  CHECK(f.Do(Method::kPut, "/size", "9", kStart + 2000).status == 405);
  CHECK(size(kStart + 2000) == "1");
  // With a query it is still /size.
  CHECK(f.Get("/size?x=1", kStart + 2000).body == "1");
}

TEST_CASE("Router: /healthz") {
  Fixture f;
  Resp r = f.Get("/healthz");
  CHECK(r.status == 200);
  CHECK(r.body == "ok");
  CHECK(r.handler == Handler::kHealthz);
  r = f.Do(Method::kHead, "/healthz");
  CHECK(r.status == 200);
  CHECK(r.Header("Content-Length") == "2");
  CHECK(r.body.empty());
}

TEST_CASE("Router: /metrics") {
  Fixture f;
  f.Post("/a", "1");
  f.Post("/b", "2");
  f.Post("/gone?ttl=1ms", "3");
  Resp r = f.Do(Method::kGet, "/metrics", "", kStart + 1);
  CHECK(r.status == 200);
  CHECK(r.handler == Handler::kMetrics);
  CHECK(r.Header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(r.body.find("\ncache_size 2\n") != std::string::npos);
  CHECK(r.body.find("# TYPE cache_size gauge\n") != std::string::npos);
  CHECK(r.body.back() == '\n');

  r = f.Do(Method::kHead, "/metrics", "", kStart + 1);
  CHECK(r.status == 200);
  CHECK(r.body.empty());
  CHECK(std::stoul(r.Header("Content-Length")) > 100);
  CHECK(r.Header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
}

TEST_CASE("Router: 405 and 501 with the Allow header of the path") {
  Fixture f;
  struct Case {
    Method method;
    const char* name;
    const char* target;
    int status;
    const char* allow;
    Handler handler;
  } cases[] = {
      // RFC 9110 9.1: a method kvd implements nowhere is 501; one it implements, not here, 405.
      {Method::kOther, "PATCH", "/k", 501, "GET, HEAD, POST, PUT, DELETE, OPTIONS", Handler::kKey},
      {Method::kOther, "TRACE", "/k", 501, "GET, HEAD, POST, PUT, DELETE, OPTIONS", Handler::kKey},
      {Method::kPut, "PUT", "/size", 405, "GET, HEAD, POST, OPTIONS", Handler::kSize},
      {Method::kDelete, "DELETE", "/size", 405, "GET, HEAD, POST, OPTIONS", Handler::kSize},
      {Method::kOther, "PATCH", "/size", 501, "GET, HEAD, POST, OPTIONS", Handler::kSize},
      {Method::kPost, "POST", "/metrics", 405, "GET, HEAD, OPTIONS", Handler::kMetrics},
      {Method::kPut, "PUT", "/metrics", 405, "GET, HEAD, OPTIONS", Handler::kMetrics},
      {Method::kDelete, "DELETE", "/metrics", 405, "GET, HEAD, OPTIONS", Handler::kMetrics},
      {Method::kPost, "POST", "/healthz", 405, "GET, HEAD, OPTIONS", Handler::kHealthz},
      {Method::kDelete, "DELETE", "/healthz", 405, "GET, HEAD, OPTIONS", Handler::kHealthz},
      {Method::kOther, "PURGE", "/healthz", 501, "GET, HEAD, OPTIONS", Handler::kHealthz},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CAPTURE(c.target);
    Resp r = f.Do(c.method, c.target, "", kStart, "", false, c.name);
    CHECK(r.status == c.status);
    CHECK(r.Header("Allow") == c.allow);
    CHECK(r.body == (c.status == 405 ? "method not allowed" : "method not implemented"));
    CHECK(r.handler == c.handler);
  }
  // PATCH on a key changes nothing.
  f.Post("/k", "v");
  CHECK(f.Do(Method::kOther, "/k", "other").status == 501);
  CHECK(f.Get("/k").body == "v");
}

TEST_CASE("Router: OPTIONS answers 200 with the path's Allow and no content") {
  Fixture f;
  struct Case {
    const char* target;
    const char* allow;
    Handler handler;
  } cases[] = {
      {"*", "GET, HEAD, POST, PUT, DELETE, OPTIONS", Handler::kOther},
      {"/k", "GET, HEAD, POST, PUT, DELETE, OPTIONS", Handler::kKey},
      {"/a%20b?x=1", "GET, HEAD, POST, PUT, DELETE, OPTIONS", Handler::kKey},
      {"http://h/k", "GET, HEAD, POST, PUT, DELETE, OPTIONS", Handler::kKey},
      {"/size", "GET, HEAD, POST, OPTIONS", Handler::kSize},
      {"/metrics", "GET, HEAD, OPTIONS", Handler::kMetrics},
      {"/healthz", "GET, HEAD, OPTIONS", Handler::kHealthz},
  };
  for (const Case& c : cases) {
    CAPTURE(c.target);
    Resp r = f.Do(Method::kOptions, c.target, "ignored body");
    CHECK(r.status == 200);
    CHECK(r.Header("Allow") == c.allow);
    CHECK(r.Header("Content-Length") == "0");  // RFC 9110 9.3.7
    CHECK(r.body.empty());
    CHECK(r.handler == c.handler);
  }
  // A key must still be a valid key; OPTIONS stores nothing.
  CHECK(f.Do(Method::kOptions, "/").status == 400);
  CHECK(f.Do(Method::kOptions, "/%zz").status == 400);
  CHECK(f.Do(Method::kOptions, "/" + std::string(300, 'k')).status == 414);
  CHECK(f.Get("/size").body == "0");
  // With a token set, OPTIONS needs it like any other request on that path.
  f.config.auth_token = "s3cret";
  CHECK(f.Do(Method::kOptions, "/k").status == 401);
  CHECK(f.Do(Method::kOptions, "*").status == 401);
  CHECK(f.Do(Method::kOptions, "/k", "", kStart, "Bearer s3cret").status == 200);
  CHECK(f.Do(Method::kOptions, "/healthz").status == 200);
}

TEST_CASE("Router: a request the parser refused is answered, and nothing else is done") {
  Fixture f;
  for (Method m : {Method::kPost, Method::kPut, Method::kDelete, Method::kGet, Method::kHead}) {
    http::Request req;
    req.method = m;
    req.method_name = Fixture::Name(m);
    req.target = "/k";
    req.body = "v";
    req.reject_status = m == Method::kPost ? 417 : 400;
    req.reject_reason = "missing Host header";
    Buffer out;
    Router::Context ctx{kStart, &out, &f.date, &f.m, &f.scratch, false};
    Router::Outcome o = f.router.Handle(req, ctx);
    CHECK(o.status == req.reject_status);
    CHECK(o.handler == Handler::kOther);
    std::string raw(out.view());
    CHECK(raw.rfind(m == Method::kPost ? "HTTP/1.1 417 Expectation Failed\r\n" : "HTTP/1.1 400 Bad Request\r\n", 0) == 0);
    CHECK(raw.find("Content-Length: 19\r\n") != std::string::npos);
    bool head = m == Method::kHead;
    CHECK(raw.substr(raw.size() - (head ? 4 : 23)) == (head ? "\r\n\r\n" : "\r\n\r\nmissing Host header"));
  }
  CHECK(f.Get("/size").body == "0");
  // Before the token is checked: a malformed request is a 400, not a 401.
  f.config.auth_token = "s3cret";
  http::Request req;
  req.method = Method::kGet;
  req.target = "/k";
  req.reject_status = 400;
  req.reject_reason = "missing Host header";
  Buffer out;
  Router::Context ctx{kStart, &out, &f.date, &f.m, &f.scratch, false};
  CHECK(f.router.Handle(req, ctx).status == 400);
}

TEST_CASE("Router: key validation") {
  Fixture f;
  Resp r = f.Get("/");
  CHECK(r.status == 400);
  CHECK(r.body == "empty key");
  CHECK(f.Post("/?ttl=1s", "v").status == 400);
  CHECK(f.Get("http://example.com").status == 400);
  CHECK(f.Get("http://example.com/").status == 400);

  // Length is counted after decoding, without the leading '/'; the limit itself is allowed.
  f.config.max_key_bytes = 250;
  std::string k250 = "/" + std::string(250, 'k');
  r = f.Post(k250, "v");
  CHECK(r.status == 200);
  CHECK(f.Get(k250).body == "v");
  r = f.Post(k250 + "k", "v");
  CHECK(r.status == 414);
  CHECK(r.body == "key too long");
  CHECK(f.Get(k250 + "k").status == 414);
  CHECK(f.Do(Method::kDelete, k250 + "k").status == 414);
  std::string enc250 = "/";
  for (int i = 0; i < 250; ++i) enc250 += "%41";
  CHECK(f.Post(enc250, "v").status == 200);
  CHECK(f.Get("/" + std::string(250, 'A')).body == "v");
  CHECK(f.Post(enc250 + "%41", "v").status == 414);

  f.config.max_key_bytes = 16;
  CHECK(f.Post("/" + std::string(16, 'x'), "v").status == 200);
  CHECK(f.Post("/" + std::string(17, 'x'), "v").status == 414);
  CHECK(f.Post("/" + std::string(17, 'x') + "?nx", "v").status == 414);

  // Bad percent-encoding.
  for (std::string_view bad : {"/%", "/%4", "/%zz", "/a%%41", "/k%G1"}) {
    CAPTURE(bad);
    r = f.Get(bad);
    CHECK(r.status == 400);
    CHECK(r.body == "invalid percent-encoding in key");
    CHECK(f.Post(bad, "v").status == 400);
  }
  // Not an absolute path ('*' with another method than OPTIONS the parser refuses before).
  r = f.Get("*");
  CHECK(r.status == 400);
  CHECK(r.body == "request target must be an absolute path");
  CHECK(r.handler == Handler::kOther);

  // Keys are binary, except for NUL, CR and LF, escaped or not.
  std::string size = f.Get("/size").body;
  for (std::string_view bad : {"/a%00b", "/%0d", "/%0A", "/x%0d%0aSet-Cookie:%20y"}) {
    CAPTURE(bad);
    r = f.Post(bad, "v");
    CHECK(r.status == 400);
    CHECK(r.body == "key contains NUL, CR or LF");
    CHECK(f.Get(bad).status == 400);
    CHECK(f.Do(Method::kDelete, bad).status == 400);
  }
  CHECK(f.Get("/size").body == size);
  CHECK(f.Post("/%01%ff%7f%09", "binary").status == 200);
  CHECK(f.Get("/%01%FF%7F%09").body == "binary");
}

TEST_CASE("Router: Connection: close is passed through to the response") {
  Fixture f;
  Resp r = f.Do(Method::kPost, "/k", "v", kStart, "", true);
  CHECK(r.status == 200);
  CHECK(r.Header("Connection") == "close");
  CHECK(f.Do(Method::kGet, "/k", "", kStart, "", true).body == "v");
  CHECK(f.Do(Method::kGet, "/size", "", kStart, "", true).body == "1");
  CHECK(f.Do(Method::kDelete, "/k", "", kStart, "", true).status == 204);
  CHECK(f.Do(Method::kGet, "/", "", kStart, "", true).status == 400);
  CHECK(f.Do(Method::kGet, "/metrics", "", kStart, "", true).status == 200);
}

TEST_CASE("Router: bearer token") {
  Fixture f;
  f.config.auth_token = "s3cret";
  const std::string www = "Bearer realm=\"kvd\"";
  auto denied = [&](Resp r) {
    CHECK(r.status == 401);
    CHECK(r.Header("WWW-Authenticate") == www);
    CHECK(r.body == "missing or wrong bearer token");
  };

  denied(f.Do(Method::kPost, "/k", "v"));
  for (std::string_view wrong : {"Bearer nope", "Bearer s3cre", "Bearer s3cret2", "Bearer S3CRET", "Bearer ",
                            "Bearer", "s3cret", "Basic s3cret", "Bearers3cret",
                            "Token s3cret"}) {
    CAPTURE(wrong);
    denied(f.Do(Method::kPost, "/k", "v", kStart, wrong));
    denied(f.Do(Method::kGet, "/size", "", kStart, wrong));
  }
  // Nothing was stored by the refused writes.
  CHECK(f.Do(Method::kGet, "/size", "", kStart, "Bearer s3cret").body == "0");

  // RFC 9110 11.4: credentials = auth-scheme 1*SP token68.
  for (std::string_view right : {"Bearer s3cret", "bearer s3cret", "BEARER s3cret", "bEaReR s3cret", "Bearer  s3cret"}) {
    CAPTURE(right);
    Resp r = f.Do(Method::kPost, "/k", "v", kStart, right);
    CHECK(r.status == 200);
    CHECK(r.Header("WWW-Authenticate") == "<absent>");
  }
  CHECK(f.Do(Method::kGet, "/k", "", kStart, "Bearer s3cret").body == "v");
  Resp r;
  denied(f.Get("/k"));
  denied(f.Do(Method::kDelete, "/k"));
  r = f.Do(Method::kHead, "/k");
  CHECK(r.status == 401);
  CHECK(r.Header("WWW-Authenticate") == www);
  denied(f.Get("/size"));
  denied(f.Get("/"));
  // 401 comes before everything else, a 405 included, and names the handler.
  r = f.Do(Method::kPut, "/size");
  denied(r);
  CHECK(r.handler == Handler::kSize);
  CHECK(f.Do(Method::kPut, "/size", "", kStart, "Bearer s3cret").status == 405);
  CHECK(f.Do(Method::kOther, "/k").status == 401);

  // /metrics and /healthz stay open unless auth_metrics.
  CHECK(f.Get("/metrics").status == 200);
  CHECK(f.Get("/healthz").status == 200);
  CHECK(f.Get("/healthz").body == "ok");
  CHECK(f.Do(Method::kPost, "/healthz").status == 405);
  f.config.auth_metrics = true;
  r = f.Get("/metrics");
  denied(r);
  CHECK(r.handler == Handler::kMetrics);
  r = f.Get("/healthz");
  denied(r);
  CHECK(r.handler == Handler::kHealthz);
  CHECK(f.Do(Method::kGet, "/metrics", "", kStart, "Bearer s3cret").status == 200);
  CHECK(f.Do(Method::kGet, "/healthz", "", kStart, "bearer s3cret").body == "ok");

  // Without a token configured, any Authorization header is ignored.
  f.config.auth_token.clear();
  f.config.auth_metrics = false;
  CHECK(f.Do(Method::kGet, "/k", "", kStart, "Bearer whatever").status == 200);
  CHECK(f.Get("/k").body == "v");
}

TEST_CASE("Router: a request handed its Prefetch key is answered as without it") {
  const std::string_view targets[] = {
      "/k", "/k1", "/k12", "/key4567", "/key45678", "/key456789abcdef", "/key456789abcdef0",
      "/k?ttl=5s", "/k1?nx", "/key4567?xx", "/key45678?", "/a?b?c", "/k?%zz", "/%6b", "/k%31?x",
      "/k12345%", "/", "/?x", "/size", "/size?x", "/metrics", "/healthz", "*",
      "http://h/k1?ttl=1s", "http://h"};
  const Method methods[] = {Method::kPost, Method::kGet, Method::kHead, Method::kPut,
                            Method::kOptions, Method::kDelete, Method::kOther};
  for (std::string_view target : targets) {
    Fixture plain, prefetched;  // the same writes, with and without the key
    prefetched.prefetch = true;
    for (Method m : methods) {
      CAPTURE(target);
      CAPTURE(Fixture::Name(m));
      std::string_view body = m == Method::kPost || m == Method::kPut ? "v" : "";
      Resp a = plain.Do(m, target, body), b = prefetched.Do(m, target, body);
      if (target.substr(1) == "metrics") continue;  // its figures differ: the fixtures' own
      CHECK(a.raw == b.raw);
      CHECK(a.handler == b.handler);
    }
  }
  // Prefetch names the key only for an origin-form path without escapes.
  Fixture f;
  auto key = [&f](std::string_view target) {
    Request req;
    req.method = Method::kGet;
    req.target = target;
    return std::string(f.router.Prefetch(req).key);
  };
  CHECK(key("/k1") == "k1");
  CHECK(key("/k1?x=%20") == "k1");
  CHECK(key("/key456789?ttl=1s") == "key456789");
  CHECK(key("/k%31").empty());
  CHECK(key("/").empty());
  CHECK(key("/?k").empty());
  CHECK(key("http://h/k1").empty());
  CHECK(key("*").empty());
}

TEST_CASE("Router: hits and misses") {
  Fixture f;
  CHECK(f.m.hits.Get() == 0);
  CHECK(f.m.misses.Get() == 0);
  f.Get("/a");                     // miss
  f.Post("/a", "1");               // neither
  f.Get("/a");                     // hit
  f.Do(Method::kHead, "/a");       // hit
  f.Post("/t?ttl=1ms", "x");
  f.Get("/t", kStart + 1);         // miss (expired)
  f.Do(Method::kDelete, "/a");     // neither
  f.Do(Method::kHead, "/a");       // miss
  f.Get("/size");                  // neither
  f.Get("/metrics");               // neither
  f.Get("/");                      // neither: refused before the lookup
  f.Post("/a?nx", "2");
  f.Post("/a?nx", "3");            // neither (a condition, not a lookup)
  CHECK(f.m.hits.Get() == 2);
  CHECK(f.m.misses.Get() == 3);
  f.config.miss_status = 404;
  f.Get("/nope");
  f.Get("/a");
  CHECK(f.m.hits.Get() == 3);
  CHECK(f.m.misses.Get() == 4);
  // /metrics reports them.
  Resp r = f.Get("/metrics");
  CHECK(r.body.find("\nkvd_cache_hits_total 3\n") != std::string::npos);
  CHECK(r.body.find("\nkvd_cache_misses_total 4\n") != std::string::npos);
}

}  // namespace
}  // namespace kvd::http

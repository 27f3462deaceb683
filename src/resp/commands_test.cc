// Commands against a real store, with a fake clock (every call passes its own now_ms).
//
// Strings marked "redis:" were checked against redis-server 7.0.15 (started with --save ''
// --appendonly no, and with --requirepass for the AUTH cases): the same command sent to it
// answered exactly those bytes. The rest are kvd's own (key and value limits, expiry bounds,
// PERSIST, EXAT/PXAT, CONFIG SET, and the values of INFO and CONFIG GET).
#include "resp/commands.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace kvd::resp {
namespace {

using namespace std::string_literals;
using Result = Commands::Result;

constexpr uint64_t kStart = 1'000'000;  // the fake clock's first reading, in ms
constexpr std::string_view kOk = "+OK\r\n";
constexpr std::string_view kNil = "$-1\r\n";

// Where the RESP2 value starting at s[pos] ends, or npos if it is not one complete value.
size_t ValueEnd(std::string_view s, size_t pos) {
  if (pos >= s.size()) return std::string::npos;
  size_t eol = s.find("\r\n", pos);
  if (eol == std::string::npos) return std::string::npos;
  std::string_view line = s.substr(pos + 1, eol - pos - 1);
  switch (s[pos]) {
    case '+':
    case '-':
    case ':':
      return eol + 2;
    case '$': {
      long long n = std::stoll(std::string(line));
      if (n < 0) return eol + 2;
      size_t end = eol + 2 + size_t(n);
      return s.substr(end, 2) == "\r\n" ? end + 2 : std::string::npos;
    }
    case '*': {
      long long n = std::stoll(std::string(line));
      size_t at = eol + 2;
      for (long long i = 0; i < n; ++i) {
        at = ValueEnd(s, at);
        if (at == std::string::npos) return at;
      }
      return at;
    }
    default:
      return std::string::npos;
  }
}

// The elements of an array reply of bulk strings (nil as "<nil>").
std::vector<std::string> Bulks(std::string_view s) {
  std::vector<std::string> out;
  REQUIRE(!s.empty());
  REQUIRE(s[0] == '*');
  size_t at = s.find("\r\n") + 2;
  while (at < s.size()) {
    size_t end = ValueEnd(s, at);
    REQUIRE(end != std::string::npos);
    std::string_view v = s.substr(at, end - at);
    if (v == kNil) {
      out.push_back("<nil>");
    } else if (v[0] == '$') {
      size_t body = v.find("\r\n") + 2;
      out.emplace_back(v.substr(body, v.size() - body - 2));
    } else {
      out.emplace_back(v);
    }
    at = end;
  }
  return out;
}

std::string Bulk(std::string_view v) { return "$" + std::to_string(v.size()) + "\r\n" + std::string(v) + "\r\n"; }
std::string Err(std::string_view m) { return "-" + std::string(m) + "\r\n"; }
std::string Int(int64_t v) { return ":" + std::to_string(v) + "\r\n"; }

struct Fixture {
  Config config;
  store::Store store{2, uint64_t(8) << 20, kStart, /*shared=*/false};  // two shards of 4 MiB
  metrics::ReactorMetrics m;
  CommandStats stats;
  std::vector<const metrics::ReactorMetrics*> reactors{&m};
  std::vector<const CommandStats*> all_stats{&stats};
  Commands cmds{&config, &store, &reactors, &all_stats, {6380, kStart}};
  Session session;
  std::string scratch;
  Commands::Outcome last{};

  Fixture() { session.id = 7; }

  // Runs one command at `now` and returns its reply, checking it is exactly one RESP2 value.
  std::string Do(const std::vector<std::string>& args, uint64_t now = kStart) {
    std::vector<std::string_view> views(args.begin(), args.end());
    Buffer out;
    out.Append("<earlier output>");  // replies are appended, never overwrite
    Commands::Context ctx{now, &out, &m, &stats, &scratch, &session};
    last = cmds.Handle(Args(views.data(), views.size()), ctx);
    std::string reply(out.view().substr(16));
    CHECK(ValueEnd(reply, 0) == reply.size());
    CHECK((last.result == Result::kError) == (!reply.empty() && reply[0] == '-'));
    return reply;
  }
  std::string Do(std::initializer_list<std::string> args, uint64_t now = kStart) {
    return Do(std::vector<std::string>(args), now);
  }
};

TEST_CASE("resp commands: PING, ECHO, QUIT, SELECT, DBSIZE") {
  Fixture f;
  CHECK(f.Do({"PING"}) == "+PONG\r\n");                                // redis
  CHECK(f.Do({"ping", "hello"}) == Bulk("hello"));                     // redis
  CHECK(f.Do({"ping", ""}) == "$0\r\n\r\n");                           // redis
  CHECK(f.Do({"ping", "a", "b"}) == Err("ERR wrong number of arguments for 'ping' command"));  // redis
  CHECK(f.Do({"ECHO", "hi"}) == Bulk("hi"));                           // redis
  CHECK(f.Do({"echo", ""}) == "$0\r\n\r\n");                           // redis
  CHECK(f.Do({"echo"}) == Err("ERR wrong number of arguments for 'echo' command"));  // redis
  CHECK(f.Do({"echo", "a", "b"}) == Err("ERR wrong number of arguments for 'echo' command"));
  CHECK(f.Do({"select", "0"}) == kOk);                                 // redis
  CHECK(f.Do({"select", "1"}) == Err("ERR DB index is out of range"));  // kvd has one database
  CHECK(f.Do({"select", "-1"}) == Err("ERR DB index is out of range"));  // redis
  CHECK(f.Do({"select", "abc"}) == Err("ERR value is not an integer or out of range"));  // redis
  CHECK(f.Do({"select", "0", "1"}) == Err("ERR wrong number of arguments for 'select' command"));  // redis
  CHECK(f.Do({"dbsize"}) == Int(0));
  f.Do({"set", "a", "1"});
  f.Do({"set", "b", "2"});
  CHECK(f.Do({"DBSIZE"}) == Int(2));
  CHECK(f.Do({"dbsize", "x"}) == Err("ERR wrong number of arguments for 'dbsize' command"));  // redis
  CHECK(!f.session.quit);
  CHECK(f.Do({"quit", "extra"}) == kOk);  // redis: extra arguments are ignored
  CHECK(f.session.quit);
  CHECK(f.last.cmd == Cmd::kQuit);
}

TEST_CASE("resp commands: GET and SET, hits and misses, the keyspace shared with HTTP") {
  Fixture f;
  CHECK(f.Do({"GET", "k"}) == kNil);
  CHECK(f.last.cmd == Cmd::kGet);
  CHECK(f.last.result == Result::kMiss);
  CHECK(f.Do({"SET", "k", "v1"}) == kOk);
  CHECK(f.last.cmd == Cmd::kSet);
  CHECK(f.last.result == Result::kOk);
  CHECK(f.Do({"GET", "k"}) == Bulk("v1"));
  CHECK(f.last.result == Result::kHit);
  CHECK(f.m.hits.Get() == 1);
  CHECK(f.m.misses.Get() == 1);
  // Binary-safe values.
  std::string bin = "a\0b\r\nc"s;
  CHECK(f.Do({"set", "bin", bin}) == kOk);
  CHECK(f.Do({"get", "bin"}) == Bulk(bin));
  // The store key is the RESP key's bytes: what HTTP stores under /k is RESP's k.
  std::string got;
  CHECK(f.store.Get(store::HashedKey("k"), kStart, [&](std::string_view v) { got = v; }));
  CHECK(got == "v1");
  CHECK(f.store.Set(store::HashedKey("from-http"), "hv", 5000, store::SetMode::kAlways, kStart) ==
        store::SetResult::kStored);
  CHECK(f.Do({"get", "from-http"}) == Bulk("hv"));
  CHECK(f.Do({"get"}) == Err("ERR wrong number of arguments for 'get' command"));          // redis
  CHECK(f.Do({"get", "k", "x"}) == Err("ERR wrong number of arguments for 'get' command"));  // redis
  CHECK(f.Do({"set", "k"}) == Err("ERR wrong number of arguments for 'set' command"));       // redis
}

TEST_CASE("resp commands: names and options are case-insensitive") {
  Fixture f;
  CHECK(f.Do({"sEt", "k", "V", "eX", "100"}) == kOk);
  CHECK(f.Do({"GeT", "k"}) == Bulk("V"));
  CHECK(f.Do({"pTtL", "k"}) == Int(100000));
  CHECK(f.Do({"set", "k", "w", "Nx"}) == kNil);
  CHECK(f.Do({"InCr", "n"}) == Int(1));
  // redis: the parameter named as the caller spelled it.
  CHECK(f.Do({"CoNfIg", "gEt", "SAVE"}) == "*2\r\n" + Bulk("SAVE") + "$0\r\n\r\n");
  // Keys are not: K is another key.
  CHECK(f.Do({"get", "K"}) == kNil);
}

TEST_CASE("resp commands: every key expires, after the configured TTL unless told otherwise") {
  Fixture f;
  f.config.ttl_ms = 10000;
  CHECK(f.Do({"set", "k", "v"}) == kOk);
  CHECK(f.Do({"pttl", "k"}) == Int(10000));
  CHECK(f.Do({"ttl", "k"}) == Int(10));
  CHECK(f.Do({"get", "k"}, kStart + 9999) == Bulk("v"));
  CHECK(f.Do({"get", "k"}, kStart + 10000) == kNil);
  CHECK(f.Do({"ttl", "k"}, kStart + 10000) == Int(-2));
  // MSET's keys and INCR's new key too.
  const uint64_t t = kStart + 20000;
  CHECK(f.Do({"mset", "a", "1", "b", "2"}, t) == kOk);
  CHECK(f.Do({"incr", "n"}, t) == Int(1));
  CHECK(f.Do({"pttl", "a"}, t) == Int(10000));
  CHECK(f.Do({"pttl", "n"}, t) == Int(10000));
  CHECK(f.Do({"mget", "a", "b", "n"}, t + 9999) == "*3\r\n" + Bulk("1") + Bulk("2") + Bulk("1"));
  CHECK(f.Do({"mget", "a", "b", "n"}, t + 10000) == "*3\r\n$-1\r\n$-1\r\n$-1\r\n");
}

TEST_CASE("resp commands: key and value limits") {
  Fixture f;
  const std::string key_error = Err("ERR invalid key: kvd keys are 1 to 250 bytes");
  std::string longest(250, 'k'), too_long(251, 'k');
  CHECK(f.Do({"set", longest, "v"}) == kOk);
  CHECK(f.Do({"get", longest}) == Bulk("v"));
  for (const std::string& bad : {std::string(), too_long}) {
    CAPTURE(bad.size());
    CHECK(f.Do({"set", bad, "v"}) == key_error);
    CHECK(f.last.result == Result::kError);
    CHECK(f.Do({"get", bad}) == key_error);
    CHECK(f.Do({"del", "a", bad}) == key_error);
    CHECK(f.Do({"exists", bad}) == key_error);
    CHECK(f.Do({"mget", "a", bad}) == key_error);
    CHECK(f.Do({"mset", "a", "1", bad, "2"}) == key_error);
    CHECK(f.Do({"incr", bad}) == key_error);
    CHECK(f.Do({"incrby", bad, "2"}) == key_error);
    CHECK(f.Do({"expire", bad, "10"}) == key_error);
    CHECK(f.Do({"ttl", bad}) == key_error);
    CHECK(f.Do({"pttl", bad}) == key_error);
  }
  CHECK(f.Do({"get", "a"}) == kNil);  // the MSET with a bad key wrote nothing
  // --max-key-bytes is honoured.
  f.config.max_key_bytes = 4;
  Commands small(&f.config, &f.store, &f.reactors, &f.all_stats, {});
  std::vector<std::string_view> args{"get", "12345"};
  Buffer out;
  Commands::Context ctx{kStart, &out, &f.m, &f.stats, &f.scratch, &f.session};
  small.Handle(Args(args.data(), args.size()), ctx);
  CHECK(out.view() == Err("ERR invalid key: kvd keys are 1 to 4 bytes"));

  // Values up to --max-value-bytes; over it nothing is written and the old value stays.
  Fixture g;
  g.config.max_value_bytes = 1000;
  Commands limited(&g.config, &g.store, &g.reactors, &g.all_stats, {});
  auto run = [&](std::vector<std::string> a) {
    std::vector<std::string_view> v(a.begin(), a.end());
    Buffer o;
    Commands::Context c{kStart, &o, &g.m, &g.stats, &g.scratch, &g.session};
    limited.Handle(Args(v.data(), v.size()), c);
    return std::string(o.view());
  };
  const std::string value_error = Err("ERR value too large: kvd values are at most 1000 bytes");
  CHECK(run({"set", "k", "old"}) == kOk);
  CHECK(run({"set", "k", std::string(1000, 'x')}) == kOk);
  CHECK(run({"set", "k", std::string(1001, 'y')}) == value_error);
  CHECK(run({"set", "k", std::string(1001, 'y'), "get"}) == value_error);
  CHECK(run({"mset", "a", "1", "k", std::string(1001, 'y')}) == value_error);
  CHECK(run({"get", "k"}) == Bulk(std::string(1000, 'x')));
  CHECK(run({"get", "a"}) == kNil);
}

TEST_CASE("resp commands: SET's options, as Redis parses and refuses them") {
  Fixture f;
  const std::string syntax = Err("ERR syntax error");
  const std::string invalid = Err("ERR invalid expire time in 'set' command");
  const std::string not_int = Err("ERR value is not an integer or out of range");
  // redis: each of these.
  CHECK(f.Do({"set", "k", "v", "EX", "10", "PX", "5"}) == syntax);
  CHECK(f.Do({"set", "k", "v", "NX", "XX"}) == syntax);
  CHECK(f.Do({"set", "k", "v", "XX", "NX"}) == syntax);
  CHECK(f.Do({"set", "k", "v", "EX", "0"}) == invalid);
  CHECK(f.Do({"set", "k", "v", "EX", "-1"}) == invalid);
  CHECK(f.Do({"set", "k", "v", "PX", "0"}) == invalid);
  CHECK(f.Do({"set", "k", "v", "EX", "abc"}) == not_int);
  CHECK(f.Do({"set", "k", "v", "EX", "1.5"}) == not_int);
  CHECK(f.Do({"set", "k", "v", "EX"}) == syntax);
  CHECK(f.Do({"set", "k", "v", "KEEPTTL", "EX", "10"}) == syntax);
  CHECK(f.Do({"set", "k", "v", "EX", "10", "KEEPTTL"}) == syntax);
  CHECK(f.Do({"set", "k", "v", "px", "100", "keepttl"}) == syntax);
  CHECK(f.Do({"set", "k", "v", "FOO"}) == syntax);
  CHECK(f.Do({"set", "k", "v", "PERSIST"}) == syntax);
  CHECK(f.Do({"set", "k", "v", "ex", "abc", "px", "5"}) == syntax);  // the syntax first
  CHECK(f.Do({"set", "k", "v", "ex", "5", "px", "abc"}) == syntax);
  CHECK(f.Do({"set", "k", "v", "EX", "10", "ex", "abc"}) == not_int);
  CHECK(f.Do({"set", "k", "v", "EX", "9223372036854775807"}) == invalid);
  CHECK(f.Do({"set", "k", "v", "PX", "9223372036854775807"}) == invalid);
  CHECK(f.Do({"set", "k", "v", "EX", "10", "EXAT", "5"}) == syntax);
  CHECK(f.Do({"get", "k"}) == kNil);  // none of them wrote anything
  // kvd's bounds: 1 ms to 24 days.
  CHECK(f.Do({"set", "k", "v", "EX", "2073600"}) == kOk);
  CHECK(f.Do({"pttl", "k"}) == Int(2073600000));
  CHECK(f.Do({"set", "k", "v", "EX", "2073601"}) == invalid);
  CHECK(f.Do({"set", "k", "v", "PX", "2073600000"}) == kOk);
  CHECK(f.Do({"set", "k", "v", "PX", "2073600001"}) == invalid);
  CHECK(f.Do({"set", "k", "v", "PX", "1"}) == kOk);
  CHECK(f.Do({"pttl", "k"}) == Int(1));
  CHECK(f.Do({"set", "k", "v", "EXAT", "99999999999"}) ==
        Err("ERR EXAT and PXAT are not supported: kvd expiry times are relative to the write"));
  CHECK(f.Do({"set", "k", "v", "pxat", "1"}) ==
        Err("ERR EXAT and PXAT are not supported: kvd expiry times are relative to the write"));
  // EX twice: the last wins (redis: OK, ttl 20).
  CHECK(f.Do({"set", "k", "v", "EX", "10", "EX", "20"}) == kOk);
  CHECK(f.Do({"ttl", "k"}) == Int(20));
}

TEST_CASE("resp commands: SET NX, XX, KEEPTTL and GET") {
  Fixture f;
  f.config.ttl_ms = 10000;
  CHECK(f.Do({"set", "k", "v", "XX"}) == kNil);  // absent: not written
  CHECK(f.Do({"get", "k"}) == kNil);
  CHECK(f.Do({"set", "k", "v", "NX"}) == kOk);
  CHECK(f.Do({"set", "k", "w", "NX"}) == kNil);
  CHECK(f.Do({"set", "k", "w", "NX", "NX"}) == kNil);  // redis: NX twice is allowed
  CHECK(f.Do({"get", "k"}) == Bulk("v"));
  CHECK(f.Do({"set", "k", "w", "XX", "XX"}) == kOk);
  CHECK(f.Do({"get", "k"}) == Bulk("w"));
  // GET: the old value, or nil. redis: each of these.
  CHECK(f.Do({"set", "k", "x", "GET"}) == Bulk("w"));
  CHECK(f.Do({"set", "k", "y", "get", "get"}) == Bulk("x"));
  CHECK(f.Do({"set", "k", "z", "nx", "get"}) == Bulk("y"));  // NX failed: not written
  CHECK(f.Do({"get", "k"}) == Bulk("y"));
  CHECK(f.Do({"set", "k2", "v", "nx", "get"}) == kNil);  // written
  CHECK(f.Do({"get", "k2"}) == Bulk("v"));
  CHECK(f.Do({"set", "k", "q", "xx", "get"}) == Bulk("y"));  // written
  CHECK(f.Do({"get", "k"}) == Bulk("q"));
  CHECK(f.Do({"set", "k3", "v", "xx", "get"}) == kNil);  // absent: not written
  CHECK(f.Do({"get", "k3"}) == kNil);
  CHECK(f.Do({"set", "k4", "v", "get"}) == kNil);
  CHECK(f.Do({"get", "k4"}) == Bulk("v"));
  // KEEPTTL keeps a live key's deadline; a new key gets the default.
  CHECK(f.Do({"set", "t", "1", "EX", "100"}) == kOk);
  CHECK(f.Do({"set", "t", "2", "KEEPTTL"}, kStart + 30000) == kOk);
  CHECK(f.Do({"pttl", "t"}, kStart + 30000) == Int(70000));
  CHECK(f.Do({"get", "t"}, kStart + 30000) == Bulk("2"));
  CHECK(f.Do({"set", "t", "3"}, kStart + 30000) == kOk);  // without it: a new deadline
  CHECK(f.Do({"pttl", "t"}, kStart + 30000) == Int(10000));
  CHECK(f.Do({"set", "new", "1", "keepttl"}) == kOk);
  CHECK(f.Do({"pttl", "new"}) == Int(10000));
  CHECK(f.Do({"set", "t", "4", "KEEPTTL", "GET", "XX"}, kStart + 35000) == Bulk("3"));
  CHECK(f.Do({"pttl", "t"}, kStart + 35000) == Int(5000));
}

TEST_CASE("resp commands: a value that cannot fit answers OOM and loses nothing") {
  Fixture f;
  f.config.max_value_bytes = store::kMaxValueLen;  // larger than a 4 MiB shard can hold
  Commands big(&f.config, &f.store, &f.reactors, &f.all_stats, {});
  auto run = [&](std::vector<std::string> a) {
    std::vector<std::string_view> v(a.begin(), a.end());
    Buffer o;
    Commands::Context c{kStart, &o, &f.m, &f.stats, &f.scratch, &f.session};
    f.last = big.Handle(Args(v.data(), v.size()), c);
    return std::string(o.view());
  };
  const std::string oom = Err("OOM command not allowed when used memory > 'maxmemory'.");
  const std::string huge(6 << 20, 'h');
  CHECK(run({"set", "k", "old"}) == kOk);
  CHECK(run({"set", "k", huge}) == oom);
  CHECK(f.last.result == Result::kError);
  CHECK(run({"set", "k", huge, "GET"}) == oom);  // not the old value: the write did not happen
  CHECK(run({"set", "k", huge, "XX", "GET"}) == oom);
  CHECK(run({"set", "n", huge, "NX", "GET"}) == oom);
  CHECK(run({"mset", "a", "1", "k", huge}) == oom);
  CHECK(run({"get", "k"}) == Bulk("old"));
  CHECK(run({"get", "a"}) == Bulk("1"));  // MSET is key by key: the pair before stays written
  CHECK(run({"exists", "n"}) == Int(0));
}

TEST_CASE("resp commands: DEL, UNLINK, EXISTS count keys") {
  Fixture f;
  f.Do({"set", "a", "1"});
  f.Do({"set", "b", "2"});
  CHECK(f.Do({"del", "a", "a", "b", "c"}) == Int(2));  // redis
  CHECK(f.Do({"exists", "a"}) == Int(0));
  CHECK(f.Do({"del"}) == Err("ERR wrong number of arguments for 'del' command"));  // redis
  f.Do({"set", "a", "1"});
  CHECK(f.Do({"exists", "a", "a", "b"}) == Int(2));  // redis: a key named twice counts twice
  CHECK(f.Do({"exists"}) == Err("ERR wrong number of arguments for 'exists' command"));
  CHECK(f.Do({"unlink", "a", "nope"}) == Int(1));
  CHECK(f.last.cmd == Cmd::kUnlink);
  CHECK(f.Do({"exists", "a"}) == Int(0));
  // Many keys, over both shards.
  for (int i = 0; i < 50; ++i) f.Do({"set", "key" + std::to_string(i), "v"});
  std::vector<std::string> del{"DEL"};
  for (int i = 0; i < 60; ++i) del.push_back("key" + std::to_string(i));
  CHECK(f.Do({"dbsize"}) == Int(50));
  CHECK(f.Do(del) == Int(50));
  CHECK(f.Do({"dbsize"}) == Int(0));
}

TEST_CASE("resp commands: EXPIRE and PEXPIRE") {
  Fixture f;
  const std::string not_int = Err("ERR value is not an integer or out of range");
  f.Do({"set", "e", "1", "EX", "100"});
  CHECK(f.Do({"expire", "nokey", "10"}) == Int(0));  // redis
  CHECK(f.Do({"expire", "nokey", "-1"}) == Int(0));  // redis
  CHECK(f.Do({"expire", "e", "abc"}) == not_int);    // redis
  CHECK(f.Do({"expire", "e", "200"}) == Int(1));
  CHECK(f.Do({"ttl", "e"}) == Int(200));
  CHECK(f.Do({"pexpire", "e", "1500"}) == Int(1));
  CHECK(f.Do({"pttl", "e"}) == Int(1500));
  // n <= 0: the key is deleted, and that counts as done (redis: 1, then EXISTS 0).
  f.Do({"set", "e", "1"});
  CHECK(f.Do({"expire", "e", "0"}) == Int(1));
  CHECK(f.Do({"exists", "e"}) == Int(0));
  f.Do({"set", "e", "1"});
  CHECK(f.Do({"pexpire", "e", "-5"}) == Int(1));
  CHECK(f.Do({"exists", "e"}) == Int(0));
  // Options (redis: each of these, on a key with a TTL).
  f.Do({"set", "e", "1", "EX", "100"});
  CHECK(f.Do({"expire", "e", "100", "NX"}) == Int(0));  // it has an expiry already (every kvd key does)
  CHECK(f.Do({"expire", "e", "100", "XX"}) == Int(1));
  CHECK(f.Do({"expire", "e", "50", "GT"}) == Int(0));
  CHECK(f.Do({"expire", "e", "100", "GT"}) == Int(0));
  CHECK(f.Do({"expire", "e", "500", "GT"}) == Int(1));
  CHECK(f.Do({"ttl", "e"}) == Int(500));
  CHECK(f.Do({"expire", "e", "1000", "LT"}) == Int(0));
  CHECK(f.Do({"expire", "e", "500", "lt"}) == Int(0));
  CHECK(f.Do({"expire", "e", "10", "LT"}) == Int(1));
  CHECK(f.Do({"ttl", "e"}) == Int(10));
  CHECK(f.Do({"expire", "e", "20", "XX", "GT"}) == Int(1));
  CHECK(f.Do({"expire", "e", "-5", "GT"}) == Int(0));  // redis: not set, key stays
  CHECK(f.Do({"exists", "e"}) == Int(1));
  CHECK(f.Do({"expire", "e", "-5", "LT"}) == Int(1));  // redis: deleted
  CHECK(f.Do({"exists", "e"}) == Int(0));
  CHECK(f.Do({"expire", "nokey", "10", "XX"}) == Int(0));
  CHECK(f.Do({"expire", "e", "10", "NX", "XX"}) ==
        Err("ERR NX and XX, GT or LT options at the same time are not compatible"));  // redis
  CHECK(f.Do({"expire", "e", "10", "NX", "GT"}) ==
        Err("ERR NX and XX, GT or LT options at the same time are not compatible"));  // redis
  CHECK(f.Do({"expire", "e", "10", "GT", "LT"}) ==
        Err("ERR GT and LT options at the same time are not compatible"));  // redis
  CHECK(f.Do({"expire", "e", "10", "FOO"}) == Err("ERR Unsupported option FOO"));  // redis
  CHECK(f.Do({"expire", "e", "abc", "FOO"}) == Err("ERR Unsupported option FOO"));  // redis: options first
  // Range (redis: these four; kvd: its 24-day bound on top).
  const std::string bad_expire = Err("ERR invalid expire time in 'expire' command");
  const std::string bad_pexpire = Err("ERR invalid expire time in 'pexpire' command");
  CHECK(f.Do({"expire", "nokey", "9223372036854775807"}) == bad_expire);
  CHECK(f.Do({"pexpire", "e", "9223372036854775807"}) == bad_pexpire);
  CHECK(f.Do({"expire", "e", "9223372036854775"}) == bad_expire);
  CHECK(f.Do({"expire", "e", "-9223372036854776"}) == bad_expire);
  f.Do({"set", "e", "1"});
  CHECK(f.Do({"expire", "e", "2073600"}) == Int(1));
  CHECK(f.Do({"expire", "e", "2073601"}) == bad_expire);
  CHECK(f.Do({"pexpire", "e", "2073600001"}) == bad_pexpire);
  CHECK(f.Do({"ttl", "e"}) == Int(2073600));  // the refused ones changed nothing
  CHECK(f.Do({"expire", "e"}) == Err("ERR wrong number of arguments for 'expire' command"));
  CHECK(f.Do({"pexpire"}) == Err("ERR wrong number of arguments for 'pexpire' command"));
  // The new deadline holds.
  f.Do({"set", "p", "1"});
  CHECK(f.Do({"pexpire", "p", "1500"}) == Int(1));
  CHECK(f.Do({"get", "p"}, kStart + 1499) == Bulk("1"));
  CHECK(f.Do({"get", "p"}, kStart + 1500) == kNil);
}

TEST_CASE("resp commands: EXPIRE GT compares and sets in one step, from several threads") {
  // Reactors share the store: each thread is one, with its own output, metrics and session. The
  // clock stands still and every PEXPIRE asks for more than the last, GT, so the expiry a reader
  // sees may only grow, and ends at the largest asked for. (Were the comparison and the change two
  // steps, a writer could set a smaller expiry after another's larger one; that window is a few
  // nanoseconds, so this catches it only now and then. Store::MultiKeyStep's own test shows the
  // step's atomicity reliably.)
  Config config;
  store::Store store{16, uint64_t(64) << 20, kStart, /*shared=*/true};
  constexpr int kWriters = 3, kRounds = 300000;
  metrics::ReactorMetrics m[kWriters + 1];
  CommandStats stats[kWriters + 1];
  std::vector<const metrics::ReactorMetrics*> reactors{&m[0], &m[1], &m[2], &m[3]};
  std::vector<const CommandStats*> all_stats{&stats[0], &stats[1], &stats[2], &stats[3]};
  Commands cmds{&config, &store, &reactors, &all_stats, {6380, kStart}};
  auto run = [&](int t, std::vector<std::string> args) {
    std::vector<std::string_view> views(args.begin(), args.end());
    Buffer out;
    std::string scratch;
    Session session;
    Commands::Context ctx{kStart, &out, &m[t], &stats[t], &scratch, &session};
    cmds.Handle(Args(views.data(), views.size()), ctx);
    return std::string(out.view());
  };
  REQUIRE(run(0, {"SET", "k", "v", "PX", "1000"}) == "+OK\r\n");
  std::atomic<int> ready{0}, done{0};
  int64_t decreases = 0, reads = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      ++ready;
      while (ready.load() < kWriters + 1) {
      }  // all start together, so that their commands interleave
      Buffer out;
      std::string scratch, n;
      Session session;
      for (int i = 0; i < kRounds; ++i) {
        n = std::to_string(1000 + kWriters * i + t);
        std::string_view args[] = {"PEXPIRE", "k", n, "GT"};
        Commands::Context ctx{kStart, &out, &m[t], &stats[t], &scratch, &session};
        cmds.Handle(Args(args, 4), ctx);
        out.Clear();
      }
      ++done;
    });
  }
  threads.emplace_back([&] {
    ++ready;
    while (ready.load() < kWriters + 1) {
    }
    int64_t last = 0;
    while (done.load() < kWriters) {
      std::string r = run(kWriters, {"PTTL", "k"});
      int64_t v = std::stoll(r.substr(1));
      decreases += v < last;
      last = v;
      ++reads;
    }
  });
  for (auto& th : threads) th.join();
  CHECK(reads > 0);
  CHECK(decreases == 0);
  CHECK(run(0, {"PTTL", "k"}) == Int(1000 + kWriters * (kRounds - 1) + kWriters - 1));
}

TEST_CASE("resp commands: TTL and PTTL never answer -1; PERSIST is refused") {
  Fixture f;
  CHECK(f.Do({"ttl", "nokey"}) == Int(-2));   // redis
  CHECK(f.Do({"pttl", "nokey"}) == Int(-2));  // redis
  f.Do({"set", "k", "v", "PX", "100000"});
  CHECK(f.Do({"ttl", "k"}, kStart + 98500) == Int(2));  // 1500 ms: rounded to the nearest second
  CHECK(f.Do({"ttl", "k"}, kStart + 98501) == Int(1));  // 1499 ms
  CHECK(f.Do({"ttl", "k"}, kStart + 99600) == Int(0));  // 400 ms: live, 0 s
  CHECK(f.Do({"pttl", "k"}, kStart + 99600) == Int(400));
  CHECK(f.Do({"pttl", "k"}, kStart + 100000) == Int(-2));
  CHECK(f.Do({"ttl"}) == Err("ERR wrong number of arguments for 'ttl' command"));       // redis
  CHECK(f.Do({"ttl", "a", "b"}) == Err("ERR wrong number of arguments for 'ttl' command"));  // redis
  const uint64_t t = kStart + 200000;
  f.Do({"set", "k", "v"}, t);
  CHECK(f.Do({"persist", "k"}, t) == Err("ERR PERSIST is not supported: every kvd key expires"));
  CHECK(f.last.cmd == Cmd::kPersist);
  CHECK(f.Do({"persist"}, t) == Err("ERR wrong number of arguments for 'persist' command"));  // redis
  CHECK(f.Do({"pttl", "k"}, t) == Int(10000));
}

TEST_CASE("resp commands: INCR, INCRBY, DECR, DECRBY") {
  Fixture f;
  const std::string not_int = Err("ERR value is not an integer or out of range");
  const std::string overflow = Err("ERR increment or decrement would overflow");
  // redis: each of these, in this order.
  CHECK(f.Do({"incr"}) == Err("ERR wrong number of arguments for 'incr' command"));
  CHECK(f.Do({"incr", "a", "b"}) == Err("ERR wrong number of arguments for 'incr' command"));
  CHECK(f.Do({"incr", "n"}) == Int(1));
  CHECK(f.Do({"incrby", "n", "9223372036854775806"}) == Int(INT64_MAX));
  CHECK(f.Do({"incr", "n"}) == overflow);
  CHECK(f.Do({"get", "n"}) == Bulk("9223372036854775807"));
  CHECK(f.Do({"incrby", "n", "abc"}) == not_int);
  CHECK(f.Do({"incrby", "n", "1.5"}) == not_int);
  CHECK(f.Do({"incrby", "n", "-0"}) == not_int);
  CHECK(f.Do({"incrby", "n", "01"}) == not_int);
  f.Do({"set", "s", "abc"});
  CHECK(f.Do({"incr", "s"}) == not_int);
  f.Do({"set", "sp", " 1"});
  CHECK(f.Do({"incr", "sp"}) == not_int);
  CHECK(f.Do({"get", "sp"}) == Bulk(" 1"));
  CHECK(f.Do({"decrby", "x", "-9223372036854775808"}) == Err("ERR decrement would overflow"));
  CHECK(f.Do({"decrby", "x", "9223372036854775807"}) == Int(-INT64_MAX));
  CHECK(f.Do({"decrby", "x", "5"}) == overflow);
  CHECK(f.Do({"decr", "x"}) == Int(INT64_MIN));
  CHECK(f.Do({"incrby", "y", "-9223372036854775808"}) == Int(INT64_MIN));
  CHECK(f.Do({"decr", "y"}) == overflow);
  CHECK(f.Do({"incrby", "z", "-3"}) == Int(-3));
  CHECK(f.Do({"decrby", "z", "-10"}) == Int(7));
  CHECK(f.Do({"decr", "z"}) == Int(6));
  CHECK(f.last.cmd == Cmd::kDecr);
  CHECK(f.Do({"incrby", "z"}) == Err("ERR wrong number of arguments for 'incrby' command"));
  // An existing key keeps its TTL (redis: SET e 1 EX 100; INCR e; TTL e -> 100); a new one gets
  // the default.
  f.config.ttl_ms = 10000;
  f.Do({"set", "e", "1", "EX", "100"});
  CHECK(f.Do({"incr", "e"}, kStart + 30000) == Int(2));
  CHECK(f.Do({"pttl", "e"}, kStart + 30000) == Int(70000));
  CHECK(f.Do({"incrby", "fresh", "5"}, kStart + 30000) == Int(5));
  CHECK(f.Do({"pttl", "fresh"}, kStart + 30000) == Int(10000));
}

TEST_CASE("resp commands: MGET and MSET") {
  Fixture f;
  CHECK(f.Do({"mset", "a", "1", "b", "2"}) == kOk);
  CHECK(f.Do({"mget", "a", "b", "c", "a"}) == "*4\r\n" + Bulk("1") + Bulk("2") + "$-1\r\n" + Bulk("1"));  // redis
  CHECK(f.m.hits.Get() == 3);
  CHECK(f.m.misses.Get() == 1);
  CHECK(f.last.result == Result::kOk);
  CHECK(f.Do({"mget"}) == Err("ERR wrong number of arguments for 'mget' command"));  // redis
  CHECK(f.Do({"mset", "a", "1", "b"}) == Err("ERR wrong number of arguments for 'mset' command"));  // redis
  CHECK(f.Do({"mset", "a"}) == Err("ERR wrong number of arguments for 'mset' command"));  // redis
  std::vector<std::string> mset{"MSET"}, mget{"MGET"};
  for (int i = 0; i < 40; ++i) {
    mset.push_back("k" + std::to_string(i));
    mset.push_back("v" + std::to_string(i));
    mget.push_back("k" + std::to_string(i));
  }
  CHECK(f.Do(mset) == kOk);
  std::vector<std::string> got = Bulks(f.Do(mget));
  REQUIRE(got.size() == 40);
  for (int i = 0; i < 40; ++i) CHECK(got[size_t(i)] == "v" + std::to_string(i));
  CHECK(f.Do({"mset", "a", "x", "a", "y"}) == kOk);  // in order: the last wins
  CHECK(f.Do({"get", "a"}) == Bulk("y"));
}

TEST_CASE("resp commands: unknown commands and subcommands, in Redis 7's words") {
  Fixture f;
  // redis: each of these.
  CHECK(f.Do({"foo"}) == Err("ERR unknown command 'foo', with args beginning with: "));
  CHECK(f.last.cmd == Cmd::kUnknown);
  CHECK(f.last.result == Result::kError);
  CHECK(f.Do({"foo", "a", "b", "c"}) == Err("ERR unknown command 'foo', with args beginning with: 'a' 'b' 'c' "));
  CHECK(f.Do({""}) == Err("ERR unknown command '', with args beginning with: "));
  CHECK(f.Do({"foo", "a b", "c"}) == Err("ERR unknown command 'foo', with args beginning with: 'a b' 'c' "));
  CHECK(f.Do({"fo\ro", "a"}) == Err("ERR unknown command 'fo o', with args beginning with: 'a' "));
  CHECK(f.Do({"f\no", "a"}) == Err("ERR unknown command 'f o', with args beginning with: 'a' "));
  CHECK(f.Do({"f\0oo"s, "a\0b"s, "c"}) == Err("ERR unknown command 'f', with args beginning with: 'a' 'c' "));
  CHECK(f.Do({"foo", std::string(200, 'x'), "abc"}) ==
        Err("ERR unknown command 'foo', with args beginning with: '" + std::string(128, 'x') + "' "));
  CHECK(f.Do({"foo", std::string(100, 'x'), std::string(100, 'y')}) ==
        Err("ERR unknown command 'foo', with args beginning with: '" + std::string(100, 'x') + "' '" +
            std::string(25, 'y') + "' "));
  CHECK(f.Do({std::string(200, 'F'), "a"}) ==
        Err("ERR unknown command '" + std::string(128, 'F') + "', with args beginning with: 'a' "));
  CHECK(f.Do({"client", "foo"}) == Err("ERR unknown subcommand 'foo'. Try CLIENT HELP."));
  CHECK(f.Do({"ClIeNt", "foo"}) == Err("ERR unknown subcommand 'foo'. Try CLIENT HELP."));
  CHECK(f.Do({"command", "foo"}) == Err("ERR unknown subcommand 'foo'. Try COMMAND HELP."));
  CHECK(f.Do({"config", "foo"}) == Err("ERR unknown subcommand 'foo'. Try CONFIG HELP."));
  CHECK(f.Do({"client", "setinfo", "lib-name", "redis-py"}) == kOk);  // Redis 7.2's, accepted
  CHECK(f.Do({"client", "setinfo", "foo", "bar"}) == Err("ERR Unrecognized option 'foo'"));
  // Commands kvd does not have are unknown, like any other.
  CHECK(f.Do({"hset", "h", "f", "v"}) ==
        Err("ERR unknown command 'hset', with args beginning with: 'h' 'f' 'v' "));
  CHECK(f.stats.rejected[size_t(Cmd::kUnknown)].Get() == 11);
}

TEST_CASE("resp commands: arity errors name the command as Redis does") {
  Fixture f;
  // redis: each of these.
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"client"}, "client"},
      {{"client", "setname"}, "client|setname"},
      {{"client", "setname", "a", "b"}, "client|setname"},
      {{"client", "id", "x"}, "client|id"},
      {{"client", "getname", "x"}, "client|getname"},
      {{"config"}, "config"},
      {{"config", "get"}, "config|get"},
      {{"config", "set", "x"}, "config|set"},
      {{"command", "count", "x"}, "command|count"},
      {{"auth"}, "auth"},
      {{"GET"}, "get"},
      {{"DecrBy", "k"}, "decrby"},
      {{"mset", "a", "1", "b"}, "mset"},
      {{"dbsize", "x"}, "dbsize"},
      {{"select"}, "select"},
      {{"unlink"}, "unlink"},
  };
  for (const auto& [args, name] : cases) {
    CAPTURE(args[0]);
    CHECK(f.Do(args) == Err("ERR wrong number of arguments for '" + name + "' command"));
    CHECK(f.last.result == Result::kError);
  }
}

TEST_CASE("resp commands: AUTH gating with --auth-token") {
  Fixture f;
  f.config.auth_token = "sekret";
  CHECK(f.cmds.AuthRequired(f.session));
  const std::string noauth = Err("NOAUTH Authentication required.");
  const std::string wrongpass = Err("WRONGPASS invalid username-password pair or user is disabled.");
  // redis (requirepass sekret), before AUTH: each of these, in this order.
  CHECK(f.Do({"get", "k"}) == noauth);
  CHECK(f.last.cmd == Cmd::kGet);
  CHECK(f.last.result == Result::kError);
  CHECK(f.Do({"get"}) == Err("ERR wrong number of arguments for 'get' command"));  // arity first
  CHECK(f.Do({"foo", "a"}) == Err("ERR unknown command 'foo', with args beginning with: 'a' "));
  CHECK(f.Do({"ping"}) == noauth);
  const std::string hello_noauth = Err(
      "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH "
      "<user> <pass> option can be used to authenticate the client and select the RESP protocol "
      "version at the same time");
  CHECK(f.Do({"hello"}) == hello_noauth);
  CHECK(f.Do({"hello", "2"}) == hello_noauth);
  CHECK(f.Do({"hello", "2", "setname", "x"}) == hello_noauth);
  CHECK(f.Do({"client", "setname", "x"}) == noauth);
  CHECK(f.Do({"select", "0"}) == noauth);
  CHECK(f.Do({"command"}) == noauth);
  CHECK(f.Do({"set", "k", "v"}) == noauth);
  CHECK(f.Do({"auth", "wrong"}) == wrongpass);
  CHECK(f.Do({"auth", "default", "wrong"}) == wrongpass);
  CHECK(f.Do({"auth", "bob", "sekret"}) == wrongpass);
  CHECK(f.Do({"auth", "sekre"}) == wrongpass);
  CHECK(f.Do({"auth", "sekret2"}) == wrongpass);
  CHECK(f.Do({"auth", "a", "b", "c"}) == Err("ERR syntax error"));
  CHECK(f.Do({"hello", "2", "auth", "default", "wrong"}) == wrongpass);
  CHECK(f.Do({"hello", "2", "auth", "x", "y", "setname", "a b"}) == wrongpass);  // auth first
  CHECK(f.cmds.AuthRequired(f.session));
  CHECK(f.stats.rejected[size_t(Cmd::kGet)].Get() == 2);
  CHECK(f.Do({"auth", "sekret"}) == kOk);
  CHECK(!f.cmds.AuthRequired(f.session));
  CHECK(f.Do({"get", "k"}) == kNil);
  CHECK(f.Do({"auth", "wrong"}) == wrongpass);  // redis: a failed AUTH keeps the session's
  CHECK(f.Do({"get", "k"}) == kNil);
  CHECK(f.Do({"auth", "default", "sekret"}) == kOk);
  // HELLO AUTH authenticates and names in one step.
  Session other;
  other.id = 9;
  f.session = other;
  CHECK(f.Do({"hello", "2", "AUTH", "default", "sekret", "SETNAME", "n1"}) ==
        "*14\r\n" + Bulk("server") + Bulk("redis") + Bulk("version") + Bulk("7.0.0") + Bulk("proto") +
            Int(2) + Bulk("id") + Int(9) + Bulk("mode") + Bulk("standalone") + Bulk("role") + Bulk("master") +
            Bulk("modules") + "*0\r\n");
  CHECK(f.session.authenticated);
  CHECK(f.session.name == "n1");
  CHECK(f.Do({"client", "getname"}) == Bulk("n1"));
  // QUIT needs no authentication.
  f.session = Session();
  CHECK(f.Do({"quit"}) == kOk);
  CHECK(f.session.quit);
}

TEST_CASE("resp commands: AUTH without a token configured") {
  Fixture f;
  CHECK(!f.cmds.AuthRequired(f.session));
  // redis (no requirepass): each of these.
  CHECK(f.Do({"auth", "x"}) ==
        Err("ERR AUTH <password> called without any password configured for the default user. Are "
            "you sure your configuration is correct?"));
  CHECK(f.Do({"auth", "default", "x"}) == kOk);
  CHECK(f.Do({"auth", "bob", "x"}) == Err("WRONGPASS invalid username-password pair or user is disabled."));
  CHECK(f.Do({"auth", "a", "b", "c"}) == Err("ERR syntax error"));
  CHECK(f.Do({"auth"}) == Err("ERR wrong number of arguments for 'auth' command"));
  CHECK(f.Do({"hello", "2", "auth", "default", "anything"}).substr(0, 4) == "*14\r");
  CHECK(f.Do({"hello", "2", "auth", "bob", "x"}) ==
        Err("WRONGPASS invalid username-password pair or user is disabled."));
}

TEST_CASE("resp commands: HELLO") {
  Fixture f;
  const std::string map = "*14\r\n" + Bulk("server") + Bulk("redis") + Bulk("version") + Bulk("7.0.0") +
                          Bulk("proto") + Int(2) + Bulk("id") + Int(7) + Bulk("mode") + Bulk("standalone") +
                          Bulk("role") + Bulk("master") + Bulk("modules") + "*0\r\n";
  CHECK(f.Do({"hello"}) == map);  // redis: the same shape, its own version and id
  CHECK(f.Do({"HELLO", "2"}) == map);
  // redis: each of these (3 is Redis's RESP3, which kvd does not speak).
  CHECK(f.Do({"hello", "3"}) == Err("NOPROTO unsupported protocol version"));
  CHECK(f.Do({"hello", "1"}) == Err("NOPROTO unsupported protocol version"));
  CHECK(f.Do({"hello", "-1"}) == Err("NOPROTO unsupported protocol version"));
  CHECK(f.Do({"hello", "4"}) == Err("NOPROTO unsupported protocol version"));
  CHECK(f.Do({"hello", "abc"}) == Err("ERR Protocol version is not an integer or out of range"));
  CHECK(f.Do({"hello", "2", "foo"}) == Err("ERR Syntax error in HELLO option 'foo'"));
  CHECK(f.Do({"hello", "2", "auth"}) == Err("ERR Syntax error in HELLO option 'auth'"));
  CHECK(f.Do({"hello", "2", "auth", "default"}) == Err("ERR Syntax error in HELLO option 'auth'"));
  CHECK(f.Do({"hello", "2", "setname"}) == Err("ERR Syntax error in HELLO option 'setname'"));
  CHECK(f.Do({"hello", "2", "setname", "a b"}) ==
        Err("ERR Client names cannot contain spaces, newlines or special characters."));
  CHECK(f.session.name.empty());
  CHECK(f.Do({"hello", "2", "setname", "cli"}) == map);
  CHECK(f.session.name == "cli");
}

TEST_CASE("resp commands: CLIENT") {
  Fixture f;
  const std::string bad_name = Err("ERR Client names cannot contain spaces, newlines or special characters.");
  // redis: each of these.
  CHECK(f.Do({"client", "getname"}) == kNil);
  CHECK(f.Do({"client", "setname", "a b"}) == bad_name);
  CHECK(f.Do({"client", "setname", "a\nb"}) == bad_name);
  CHECK(f.Do({"client", "setname", "\xc3\xa9"}) == bad_name);
  CHECK(f.Do({"client", "setname", "myname"}) == kOk);
  CHECK(f.Do({"client", "getname"}) == Bulk("myname"));
  CHECK(f.Do({"client", "setname", ""}) == kOk);
  CHECK(f.Do({"client", "getname"}) == kNil);
  CHECK(f.Do({"client", "id"}) == Int(7));
  CHECK(f.last.cmd == Cmd::kClient);
  f.session.addr = "127.0.0.1:5555";
  f.Do({"client", "setname", "me"});
  CHECK(f.Do({"client", "info"}) ==
        Bulk("id=7 addr=127.0.0.1:5555 name=me db=0 flags=N cmd=client|info user=default resp=2\n"));
  std::string help = f.Do({"CLIENT", "HELP"});
  CHECK(help.substr(0, 1) == "*");
  CHECK(help.find("+SETNAME <connection-name>\r\n") != std::string::npos);
}

TEST_CASE("resp commands: COMMAND, COMMAND COUNT, INFO, DOCS, LIST, all from the table") {
  Fixture f;
  CHECK(f.Do({"command", "count"}) == Int(27));
  std::string all = f.Do({"command"});
  CHECK(all.substr(0, 5) == "*27\r\n");
  CHECK(f.Do({"command", "info"}) == all);  // redis: no names is all of them
  std::vector<std::string> names = Bulks(f.Do({"command", "list"}));
  CHECK(names.size() == 27);
  CHECK(names[0] == "get");
  // Redis's entry for GET, as redis-server 7.0.15 sends it up to the ACL categories (its tips,
  // key specifications and subcommands are its own; kvd sends them empty).
  const std::string get_entry = "*10\r\n" + Bulk("get") + Int(2) + "*2\r\n+readonly\r\n+fast\r\n" + Int(1) +
                                Int(1) + Int(1) + "*3\r\n+@read\r\n+@string\r\n+@fast\r\n" +
                                "*0\r\n*0\r\n*0\r\n";
  CHECK(f.Do({"command", "info", "GET"}) == "*1\r\n" + get_entry);
  CHECK(f.Do({"command", "info", "get", "nosuch"}) == "*2\r\n" + get_entry + "$-1\r\n");  // redis: nil
  CHECK(f.Do({"command", "info", "nosuch"}) == "*1\r\n$-1\r\n");  // redis
  CHECK(f.Do({"command", "info", "CONFIG|GET"}) ==  // redis: this entry exactly
        "*1\r\n*10\r\n" + Bulk("config|get") + Int(-3) + "*4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n" +
            Int(0) + Int(0) + Int(0) + "*3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n*0\r\n*0\r\n*0\r\n");
  std::string mset = f.Do({"command", "info", "mset"});
  CHECK(mset.find(Int(-3) + "*2\r\n+write\r\n+denyoom\r\n" + Int(1) + Int(-1) + Int(2)) != std::string::npos);
  std::string client = f.Do({"command", "info", "client"});
  CHECK(client.find(Bulk("client|setname") + Int(3)) != std::string::npos);
  CHECK(f.Do({"command", "docs", "nosuch"}) == "*0\r\n");  // redis
  std::string docs = f.Do({"command", "docs", "get"});
  CHECK(docs == "*2\r\n" + Bulk("get") + "*6\r\n" + Bulk("summary") + Bulk("Get the value of a key.") +
                    Bulk("since") + Bulk("1.0.0") + Bulk("group") + Bulk("string"));
  CHECK(f.Do({"command", "docs"}).substr(0, 5) == "*54\r\n");
  CHECK(f.Do({"command", "list", "filterby"}) == Err("ERR syntax error"));  // redis (kvd has no FILTERBY)
  CHECK(f.Do({"command", "help"}).substr(0, 1) == "*");
}

TEST_CASE("resp commands: CONFIG GET answers what tools ask, CONFIG SET is refused") {
  Fixture f;
  // redis: these two exactly (redis-benchmark asks them on start).
  CHECK(f.Do({"config", "get", "save"}) == "*2\r\n" + Bulk("save") + "$0\r\n\r\n");
  CHECK(f.Do({"config", "get", "appendonly"}) == "*2\r\n" + Bulk("appendonly") + Bulk("no"));
  CHECK(f.Do({"config", "get", "nosuch"}) == "*0\r\n");  // redis
  CHECK(f.Do({"config", "get", "save", "appendonly", "sav*"}) ==
        "*4\r\n" + Bulk("save") + "$0\r\n\r\n" + Bulk("appendonly") + Bulk("no"));  // each once
  std::vector<std::string> mm = Bulks(f.Do({"config", "get", "maxmemory*"}));
  CHECK(mm == std::vector<std::string>{"maxmemory", std::to_string(8 << 20), "maxmemory-policy", "s3fifo"});
  CHECK(Bulks(f.Do({"config", "get", "*"})).size() == 18);
  CHECK(Bulks(f.Do({"config", "get", "PORT"})) == std::vector<std::string>{"PORT", "6380"});
  CHECK(Bulks(f.Do({"config", "get", "m?xclient[a-z]"})) == std::vector<std::string>{"maxclients", "10000"});
  CHECK(Bulks(f.Do({"config", "get", "[^m]*s"})) == std::vector<std::string>{"databases", "1"});
  CHECK(Bulks(f.Do({"config", "get", "*s"})) == std::vector<std::string>{"databases", "1", "maxclients", "10000"});
  CHECK(Bulks(f.Do({"config", "get", "time\\out"})) == std::vector<std::string>{"timeout", "60"});
  CHECK(f.Do({"config", "set", "save", ""}) ==
        Err("ERR CONFIG SET is not supported: kvd's settings are its command-line flags"));
  CHECK(f.Do({"config", "help"}).substr(0, 1) == "*");
}

// An INFO reply as section -> (field -> value), checking every line is "# Section", "key:value"
// or the blank line between sections.
std::map<std::string, std::map<std::string, std::string>> ParseInfo(const std::string& reply) {
  REQUIRE(reply[0] == '$');
  size_t body = reply.find("\r\n") + 2;
  std::string text = reply.substr(body, reply.size() - body - 2);
  std::map<std::string, std::map<std::string, std::string>> out;
  std::string section;
  size_t at = 0;
  bool blank_before = true;
  while (at < text.size()) {
    size_t eol = text.find("\r\n", at);
    REQUIRE(eol != std::string::npos);  // every line ends in CRLF
    std::string line = text.substr(at, eol - at);
    at = eol + 2;
    if (line.empty()) {
      CHECK(!blank_before);
      blank_before = true;
      continue;
    }
    if (line[0] == '#') {
      CHECK(blank_before);  // a blank line before each section but the first
      section = line.substr(2);
      out[section];
      blank_before = false;
      continue;
    }
    blank_before = false;
    size_t colon = line.find(':');
    REQUIRE(colon != std::string::npos);
    CHECK(!section.empty());
    out[section][line.substr(0, colon)] = line.substr(colon + 1);
  }
  return out;
}

TEST_CASE("resp commands: INFO") {
  Fixture f;
  f.m.of(metrics::Protocol::kResp).open.Add(3);
  f.m.of(metrics::Protocol::kResp).accepted.Add(5);
  f.m.requests.Add(4);  // four HTTP requests
  f.Do({"set", "a", "1"});
  f.Do({"set", "b", "2"});
  f.Do({"get", "a"});
  f.Do({"get", "zz"});
  f.Do({"nosuch"});
  f.Do({"get"});
  auto info = ParseInfo(f.Do({"info"}));
  CHECK(f.last.cmd == Cmd::kInfo);
  CHECK(info.size() == 7);  // default: all but commandstats
  CHECK(info.count("Commandstats") == 0);
  auto& server = info["Server"];
  CHECK(server["redis_version"] == "7.0.0");
  CHECK(!server["kvd_version"].empty());
  CHECK(server["redis_mode"] == "standalone");
  CHECK(server["tcp_port"] == "6380");
  CHECK(server["process_id"] == std::to_string(getpid()));
  CHECK(server["run_id"].size() == 40);
  CHECK(server["uptime_in_seconds"] == "0");
  CHECK(info["Clients"]["connected_clients"] == "3");
  CHECK(info["Clients"]["maxclients"] == "10000");
  auto& memory = info["Memory"];
  store::ShardStats st = f.store.Stats(kStart);
  CHECK(memory["used_memory"] == std::to_string(st.bytes_held));
  CHECK(!memory["used_memory_human"].empty());
  CHECK(std::stoull(memory["used_memory_rss"]) > 0);
  CHECK(memory["maxmemory"] == std::to_string(8 << 20));
  CHECK(memory["maxmemory_human"] == "8.00M");
  CHECK(memory["maxmemory_policy"] == "s3fifo");
  CHECK(info["Persistence"]["loading"] == "0");
  auto& stats = info["Stats"];
  CHECK(stats["total_connections_received"] == "5");
  CHECK(stats["total_commands_processed"] == "8");  // 4 run here (not the rejected 2) + 4 HTTP
  CHECK(stats["keyspace_hits"] == "1");
  CHECK(stats["keyspace_misses"] == "1");
  CHECK(stats["expired_keys"] == "0");
  CHECK(stats["evicted_keys"] == "0");
  CHECK(info["Replication"]["role"] == "master");
  CHECK(info["Keyspace"]["db0"] == "keys=2,expires=2,avg_ttl=0");

  // Sections by name, any case; unknown ones add nothing (redis: INFO nosuch is "").
  auto one = ParseInfo(f.Do({"info", "SERVER"}));
  CHECK(one.size() == 1);
  CHECK(one.count("Server") == 1);
  auto two = ParseInfo(f.Do({"info", "keyspace", "clients", "nosuch"}));
  CHECK(two.size() == 2);
  CHECK(f.Do({"info", "nosuch"}) == "$0\r\n\r\n");
  // all: commandstats too.
  auto everything = ParseInfo(f.Do({"info", "all"}));
  CHECK(everything.size() == 8);
  CHECK(everything["Commandstats"]["cmdstat_get"] == "calls=2,rejected_calls=1,failed_calls=0");
  CHECK(everything["Commandstats"]["cmdstat_set"] == "calls=2,rejected_calls=0,failed_calls=0");
  CHECK(everything["Commandstats"].count("cmdstat_unknown") == 0);
  // An empty keyspace has no db0 line (as Redis).
  f.Do({"del", "a", "b"});
  auto empty = ParseInfo(f.Do({"info", "keyspace"}));
  CHECK(empty["Keyspace"].empty());
  // Expired keys are counted once reclaimed.
  f.Do({"set", "x", "1", "PX", "10"});
  f.Do({"get", "x"}, kStart + 10);
  CHECK(ParseInfo(f.Do({"info", "stats"}, kStart + 10))["Stats"]["expired_keys"] == "1");
  auto later = ParseInfo(f.Do({"info", "server"}, kStart + 90061000));
  CHECK(later["Server"]["uptime_in_seconds"] == "90061");
  CHECK(later["Server"]["uptime_in_days"] == "1");
}

TEST_CASE("resp commands: the counters a reactor keeps") {
  Fixture f;
  f.Do({"get", "a"});
  f.Do({"get"});                 // rejected: arity
  f.Do({"incr", "a"});
  f.Do({"set", "s", "x"});
  f.Do({"incr", "s"});           // ran, failed
  f.Do({"nosuch"});              // rejected: unknown
  CHECK(f.stats.calls[size_t(Cmd::kGet)].Get() == 1);
  CHECK(f.stats.rejected[size_t(Cmd::kGet)].Get() == 1);
  CHECK(f.stats.calls[size_t(Cmd::kIncr)].Get() == 2);
  CHECK(f.stats.failed[size_t(Cmd::kIncr)].Get() == 1);
  CHECK(f.stats.rejected[size_t(Cmd::kUnknown)].Get() == 1);
  CHECK(CmdName(Cmd::kIncrBy) == "incrby");
  CHECK(CmdName(Cmd::kUnknown) == "unknown");
}

TEST_CASE("resp commands: Prefetch hashes the key once and Handle takes it back") {
  Fixture f;
  f.Do({"set", "k", "v"});
  std::vector<std::string_view> get{"GET", "k"};
  store::HashedKey key = f.cmds.Prefetch(Args(get.data(), get.size()));
  CHECK(key.key.data() == get[1].data());
  CHECK(key.hash == store::HashKey("k"));
  f.cmds.PrefetchBatch(&key, 1);
  Buffer out;
  Commands::Context ctx{kStart, &out, &f.m, &f.stats, &f.scratch, &f.session, &key};
  CHECK(f.cmds.Handle(Args(get.data(), get.size()), ctx).result == Result::kHit);
  CHECK(out.view() == Bulk("v"));
  // The key given is used as is: a wrong hash is not recomputed (so Handle did not rehash).
  store::HashedKey wrong(get[1], key.hash ^ 1);
  Buffer out2;
  Commands::Context ctx2{kStart, &out2, &f.m, &f.stats, &f.scratch, &f.session, &wrong};
  CHECK(f.cmds.Handle(Args(get.data(), get.size()), ctx2).result == Result::kMiss);
  // A key for other bytes (another command's) is ignored.
  std::string copy = "k";
  std::vector<std::string_view> get2{"get", copy};
  Buffer out3;
  Commands::Context ctx3{kStart, &out3, &f.m, &f.stats, &f.scratch, &f.session, &wrong};
  CHECK(f.cmds.Handle(Args(get2.data(), get2.size()), ctx3).result == Result::kHit);
  // Nothing to prefetch: no key argument, or not a valid key.
  std::vector<std::string_view> ping{"PING", "k"}, bad{"GET", ""}, unknown{"FOO", "k"}, alone{"GET"};
  CHECK(f.cmds.Prefetch(Args(ping.data(), ping.size())).key.empty());
  CHECK(f.cmds.Prefetch(Args(bad.data(), bad.size())).key.empty());
  CHECK(f.cmds.Prefetch(Args(unknown.data(), unknown.size())).key.empty());
  CHECK(f.cmds.Prefetch(Args(alone.data(), alone.size())).key.empty());
  std::vector<std::string_view> set{"set", "k2", "v"};
  CHECK(f.cmds.Prefetch(Args(set.data(), set.size())).key == "k2");
}

TEST_CASE("resp commands: every command in the table reports its own Cmd") {
  Fixture f;
  for (const std::string& name : Bulks(f.Do({"command", "list"}))) {
    CAPTURE(name);
    std::vector<std::string> args{name};
    for (int i = 0; i < 20; ++i) args.push_back("junk");  // enough to be refused by most
    f.Do(args);
    CHECK(CmdName(f.last.cmd) == name);
    f.session.quit = false;
  }
}

TEST_CASE("resp commands: any arguments get exactly one reply, and bad ones an error") {
  // Every command with 0..6 arguments drawn from words that are options, numbers at and past the
  // edges, empty and binary strings: each call must answer one well-formed value (Fixture::Do
  // checks it) and never crash or leave a partial reply.
  Fixture f;
  f.config.auth_token = "";
  const std::vector<std::string> words = {
      "k", "", "v", "0", "1", "-1", "10", "abc", "9223372036854775807", "-9223372036854775808",
      "99999999999999999999", "NX", "XX", "GET", "EX", "PX", "KEEPTTL", "GT", "LT", "AUTH", "SETNAME",
      "default", "2", "3", "*", "save", "count", "info", "docs", "list", "help", "setname", "getname",
      "id", "get", "set", "a b", "\r\n"s, "\0x"s, std::string(300, 'z'), "server", "all"};
  std::vector<std::string> names = Bulks(f.Do({"command", "list"}));
  names.push_back("nosuch");
  uint64_t seed = 88172645463325252ull;
  auto next = [&] {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
  };
  for (const std::string& name : names) {
    for (int round = 0; round < 200; ++round) {
      std::vector<std::string> args{name};
      size_t n = next() % 7;
      for (size_t i = 0; i < n; ++i) args.push_back(words[next() % words.size()]);
      CAPTURE(args.size());
      f.Do(args, kStart + uint64_t(round));
      f.session = Session();
    }
  }
}

}  // namespace
}  // namespace kvd::resp

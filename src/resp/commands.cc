#include "resp/commands.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <optional>
#include <random>
#include <span>

#include "absl/time/time.h"
#include "fmt/format.h"
#include "metrics/process_stats.h"
#include "resp/reply.h"
#include "util/integer.h"
#include "util/version.h"

namespace kvd::resp {

using Outcome = Commands::Outcome;
using Result = Commands::Result;
using Context = Commands::Context;

namespace {

// What kvd tells Redis clients it is: the Redis version whose commands it follows.
constexpr std::string_view kRedisVersion = "7.0.0";

// COMMAND's flags, in the order Redis lists them.
enum Flag : uint32_t {
  kWrite = 1u << 0,
  kReadonly = 1u << 1,
  kDenyOom = 1u << 2,
  kAdmin = 1u << 3,
  kNoScript = 1u << 4,
  kLoading = 1u << 5,
  kStale = 1u << 6,
  kFast = 1u << 7,
  kNoAuth = 1u << 8,
  kAllowBusy = 1u << 9,
};
constexpr std::string_view kFlagNames[] = {"write", "readonly", "denyoom", "admin", "noscript",
                                           "loading", "stale", "fast", "no_auth", "allow_busy"};

// Redis 7.0's messages, word for word (checked against redis-server 7.0.15).
constexpr std::string_view kSyntaxError = "ERR syntax error";
constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
constexpr std::string_view kIncrOverflow = "ERR increment or decrement would overflow";
constexpr std::string_view kDecrOverflow = "ERR decrement would overflow";
constexpr std::string_view kNoAuthError = "NOAUTH Authentication required.";
constexpr std::string_view kWrongPass = "WRONGPASS invalid username-password pair or user is disabled.";
constexpr std::string_view kOom = "OOM command not allowed when used memory > 'maxmemory'.";
constexpr std::string_view kBadClientName =
    "ERR Client names cannot contain spaces, newlines or special characters.";
constexpr std::string_view kAuthWithoutPassword =
    "ERR AUTH <password> called without any password configured for the default user. Are you "
    "sure your configuration is correct?";
constexpr std::string_view kHelloNoAuth =
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH "
    "<user> <pass> option can be used to authenticate the client and select the RESP protocol "
    "version at the same time";
// kvd's own.
constexpr std::string_view kPersistRefused = "ERR PERSIST is not supported: every kvd key expires";
constexpr std::string_view kAbsoluteExpiry =
    "ERR EXAT and PXAT are not supported: kvd expiry times are relative to the write";
constexpr std::string_view kConfigSetRefused =
    "ERR CONFIG SET is not supported: kvd's settings are its command-line flags";

char Lower(char c) { return c >= 'A' && c <= 'Z' ? char(c + ('a' - 'A')) : c; }

// s equals `lower` (lower case already) ignoring the case of s's ASCII letters.
bool EqualsLower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (Lower(s[i]) != lower[i]) return false;
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// Time that depends only on the lengths, so a client cannot find the token byte by byte from
// how long a wrong guess takes.
bool ConstantTimeEquals(std::string_view given, std::string_view secret) {
  unsigned char diff = given.size() == secret.size() ? 0 : 1;
  const size_t n = secret.empty() ? 1 : secret.size();
  for (size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i] ^ (secret.empty() ? 0 : secret[i % n]));
  }
  return diff == 0 && !secret.empty();
}

// What %.<max>s prints of s: at most max bytes, and nothing from a NUL on.
void AppendCString(std::string* out, std::string_view s, size_t max) {
  s = s.substr(0, max);
  if (const void* nul = std::memchr(s.data(), '\0', s.size())) {
    s = s.substr(0, size_t(static_cast<const char*>(nul) - s.data()));
  }
  out->append(s.data(), s.size());
}

// Redis's bytesToHuman: "512B", "1.50K", "2.00M", ...
std::string BytesToHuman(uint64_t n) {
  const double d = double(n);
  if (n < 1024) return fmt::format("{}B", n);
  if (n < (uint64_t(1) << 20)) return fmt::format("{:.2f}K", d / 1024);
  if (n < (uint64_t(1) << 30)) return fmt::format("{:.2f}M", d / (1 << 20));
  if (n < (uint64_t(1) << 40)) return fmt::format("{:.2f}G", d / double(uint64_t(1) << 30));
  if (n < (uint64_t(1) << 50)) return fmt::format("{:.2f}T", d / double(uint64_t(1) << 40));
  return fmt::format("{:.2f}P", d / double(uint64_t(1) << 50));
}

// One element of a glob pattern at p[*i] ('?', a [class], \x, or a byte) against c, ignoring
// case; moves *i past it. Redis's stringmatchlen rules.
bool MatchOne(std::string_view p, size_t* i, char c) {
  const char lc = Lower(c);
  if (p[*i] == '?') {
    ++*i;
    return true;
  }
  if (p[*i] == '[') {
    size_t j = *i + 1;
    bool negate = j < p.size() && p[j] == '^';
    if (negate) ++j;
    bool match = false;
    while (j < p.size() && p[j] != ']') {
      if (p[j] == '\\' && j + 1 < p.size()) {
        match |= Lower(p[j + 1]) == lc;
        j += 2;
      } else if (j + 2 < p.size() && p[j + 1] == '-') {
        char lo = Lower(p[j]), hi = Lower(p[j + 2]);
        if (lo > hi) std::swap(lo, hi);
        match |= lc >= lo && lc <= hi;
        j += 3;
      } else {
        match |= Lower(p[j]) == lc;
        ++j;
      }
    }
    *i = j < p.size() ? j + 1 : j;  // an unterminated class ends the pattern
    return match != negate;
  }
  if (p[*i] == '\\' && *i + 1 < p.size()) ++*i;
  return Lower(p[(*i)++]) == lc;
}

// Glob match ignoring case (CONFIG GET's patterns). '*' backtracks to its latest position only,
// which is enough for globs and keeps the match linear in practice.
bool GlobMatch(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0, star = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      while (pi < p.size() && p[pi] == '*') ++pi;
      if (pi == p.size()) return true;
      star = pi;
      star_s = si;
      continue;
    }
    if (pi < p.size()) {
      size_t next = pi;
      if (MatchOne(p, &next, s[si])) {
        pi = next;
        ++si;
        continue;
      }
    }
    if (star == std::string_view::npos) return false;
    pi = star;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

bool IsGlob(std::string_view p) { return p.find_first_of("*?[\\") != std::string_view::npos; }

// CLIENT SETNAME's rule: printable ASCII without spaces.
bool ValidClientName(std::string_view name) {
  for (char c : name) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

store::HashedKey KeyFor(std::string_view k, const Context& ctx) {
  if (ctx.key != nullptr && ctx.key->key.data() == k.data() && ctx.key->key.size() == k.size()) {
    return *ctx.key;
  }
  return store::HashedKey(k);
}

Outcome Ok(Cmd cmd) { return {cmd, Result::kOk}; }

}  // namespace

struct Commands::Spec {
  std::string_view name;  // lower case; "container|sub" for a subcommand
  Cmd cmd;
  int arity;  // Redis's: n exactly n words (the name included), -n at least n
  uint32_t flags;
  int first_key, last_key, step;  // key positions, as COMMAND reports them
  std::string_view acl;           // ACL categories, space-separated
  Outcome (*run)(const Commands&, Args, Context&);
  std::span<const Spec> subs;  // a container's subcommands
  // COMMAND DOCS (what redis-cli's help shows): Redis's group and first version, kvd's summary.
  std::string_view group, since, summary;
};

std::string_view CmdName(Cmd c) {
  static constexpr std::string_view kNames[] = {
      "unknown", "get",    "set",    "del",    "unlink", "exists",  "expire",  "pexpire",
      "ttl",     "pttl",   "persist", "incr",  "incrby", "decr",    "decrby",  "mget",
      "mset",    "dbsize", "select", "ping",   "echo",   "info",    "command", "config",
      "hello",   "client", "auth",   "quit"};
  static_assert(std::size(kNames) == size_t(Cmd::kCount));
  return kNames[size_t(c)];
}

Outcome Commands::Error(Context& ctx, Cmd cmd, std::string_view message) const {
  AppendError(ctx.out, message);
  return {cmd, Result::kError};
}

// The handlers: one per table entry, each given the whole command (its arity already checked).
struct Handlers {
  using C = const Commands&;

  static Outcome ArityError(C c, Context& ctx, Cmd cmd, std::string_view name) {
    ctx.scratch->assign("ERR wrong number of arguments for '");
    ctx.scratch->append(name.data(), name.size());
    ctx.scratch->append("' command");
    return c.Error(ctx, cmd, *ctx.scratch);
  }

  // --- Connection ---

  static Outcome Ping(C c, Args a, Context& ctx) {
    if (a.size() > 2) return ArityError(c, ctx, Cmd::kPing, "ping");
    if (a.size() == 1) {
      ctx.out->Append("+PONG\r\n", 7);
    } else {
      AppendBulk(ctx.out, a[1]);
    }
    return Ok(Cmd::kPing);
  }

  static Outcome Echo(C, Args a, Context& ctx) {
    AppendBulk(ctx.out, a[1]);
    return Ok(Cmd::kEcho);
  }

  static Outcome Quit(C, Args, Context& ctx) {
    AppendOk(ctx.out);
    ctx.session->quit = true;
    return Ok(Cmd::kQuit);
  }

  static Outcome Select(C c, Args a, Context& ctx) {
    int64_t db;
    if (!ParseInteger(a[1], &db)) return c.Error(ctx, Cmd::kSelect, kNotInteger);
    if (db != 0) return c.Error(ctx, Cmd::kSelect, "ERR DB index is out of range");
    AppendOk(ctx.out);
    return Ok(Cmd::kSelect);
  }

  // Whether user/password are kvd's credentials: the token, as Redis's default user's password.
  // Without a token the default user needs none (Redis's "nopass"), so any password is right.
  static bool Credentials(C c, std::string_view user, std::string_view password) {
    if (user != "default") return false;
    return c.config_->auth_token.empty() || ConstantTimeEquals(password, c.config_->auth_token);
  }

  static Outcome Auth(C c, Args a, Context& ctx) {
    if (a.size() > 3) return c.Error(ctx, Cmd::kAuth, kSyntaxError);
    if (a.size() == 2 && c.config_->auth_token.empty()) return c.Error(ctx, Cmd::kAuth, kAuthWithoutPassword);
    std::string_view user = a.size() == 3 ? a[1] : std::string_view("default");
    // A failed AUTH leaves an authenticated session authenticated, as in Redis.
    if (!Credentials(c, user, a.back())) return c.Error(ctx, Cmd::kAuth, kWrongPass);
    ctx.session->authenticated = true;
    AppendOk(ctx.out);
    return Ok(Cmd::kAuth);
  }

  static Outcome Hello(C c, Args a, Context& ctx) {
    if (a.size() >= 2) {
      int64_t version;
      if (!ParseInteger(a[1], &version)) {
        return c.Error(ctx, Cmd::kHello, "ERR Protocol version is not an integer or out of range");
      }
      if (version != 2) return c.Error(ctx, Cmd::kHello, "NOPROTO unsupported protocol version");  // RESP2 only
    }
    const std::string_view* user = nullptr;
    const std::string_view* name = nullptr;
    for (size_t j = 2; j < a.size(); ++j) {
      const size_t more = a.size() - 1 - j;
      if (EqualsLower(a[j], "auth") && more >= 2) {
        user = &a[j + 1];
        j += 2;
      } else if (EqualsLower(a[j], "setname") && more >= 1) {
        name = &a[++j];
      } else {
        ctx.scratch->assign("ERR Syntax error in HELLO option '");
        AppendCString(ctx.scratch, a[j], a[j].size());
        ctx.scratch->push_back('\'');
        return c.Error(ctx, Cmd::kHello, *ctx.scratch);
      }
    }
    if (user != nullptr) {
      if (!Credentials(c, user[0], user[1])) return c.Error(ctx, Cmd::kHello, kWrongPass);
      ctx.session->authenticated = true;
    }
    if (c.AuthRequired(*ctx.session)) return c.Error(ctx, Cmd::kHello, kHelloNoAuth);
    if (name != nullptr) {
      if (!ValidClientName(*name)) return c.Error(ctx, Cmd::kHello, kBadClientName);
      ctx.session->name.assign(name->data(), name->size());
    }
    Buffer* out = ctx.out;
    AppendArrayHeader(out, 14);
    AppendBulk(out, "server");
    AppendBulk(out, "redis");
    AppendBulk(out, "version");
    AppendBulk(out, kRedisVersion);
    AppendBulk(out, "proto");
    AppendInteger(out, 2);
    AppendBulk(out, "id");
    AppendInteger(out, int64_t(ctx.session->id));
    AppendBulk(out, "mode");
    AppendBulk(out, "standalone");
    AppendBulk(out, "role");
    AppendBulk(out, "master");
    AppendBulk(out, "modules");
    AppendArrayHeader(out, 0);
    return Ok(Cmd::kHello);
  }

  static Outcome Help(Context& ctx, Cmd cmd, std::initializer_list<std::string_view> lines) {
    AppendArrayHeader(ctx.out, lines.size());
    for (std::string_view l : lines) AppendSimple(ctx.out, l);
    return Ok(cmd);
  }

  static Outcome ClientSetname(C c, Args a, Context& ctx) {
    if (!ValidClientName(a[2])) return c.Error(ctx, Cmd::kClient, kBadClientName);
    ctx.session->name.assign(a[2].data(), a[2].size());  // "" clears it
    AppendOk(ctx.out);
    return Ok(Cmd::kClient);
  }
  static Outcome ClientGetname(C, Args, Context& ctx) {
    if (ctx.session->name.empty()) {
      AppendNullBulk(ctx.out);
    } else {
      AppendBulk(ctx.out, ctx.session->name);
    }
    return Ok(Cmd::kClient);
  }
  static Outcome ClientId(C, Args, Context& ctx) {
    AppendInteger(ctx.out, int64_t(ctx.session->id));
    return Ok(Cmd::kClient);
  }
  static Outcome ClientInfo(C, Args, Context& ctx) {
    const Session& s = *ctx.session;
    ctx.scratch->clear();
    fmt::format_to(std::back_inserter(*ctx.scratch),
                   "id={} addr={} name={} db=0 flags=N cmd=client|info user=default resp=2\n", s.id,
                   s.addr, s.name);
    AppendBulk(ctx.out, *ctx.scratch);
    return Ok(Cmd::kClient);
  }
  // Redis 7.2's (client libraries send it on connecting); kvd accepts and ignores the values.
  static Outcome ClientSetinfo(C c, Args a, Context& ctx) {
    if (!EqualsLower(a[2], "lib-name") && !EqualsLower(a[2], "lib-ver")) {
      ctx.scratch->assign("ERR Unrecognized option '");
      AppendCString(ctx.scratch, a[2], 128);
      ctx.scratch->push_back('\'');
      return c.Error(ctx, Cmd::kClient, *ctx.scratch);
    }
    if (!ValidClientName(a[3])) {
      ctx.scratch->assign(EqualsLower(a[2], "lib-name") ? "ERR lib-name" : "ERR lib-ver");
      ctx.scratch->append(" cannot contain spaces, newlines or special characters.");
      return c.Error(ctx, Cmd::kClient, *ctx.scratch);
    }
    AppendOk(ctx.out);
    return Ok(Cmd::kClient);
  }
  static Outcome ClientHelp(C, Args, Context& ctx) {
    return Help(ctx, Cmd::kClient,
                {"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                 "GETNAME", "    Return the name of the current connection.", "ID",
                 "    Return the ID of the current connection.", "INFO",
                 "    Return information about the current client connection.",
                 "SETNAME <connection-name>", "    Assign the name <connection-name> to the current connection.",
                 "SETINFO <LIB-NAME|LIB-VER> <value>", "    Accepted and ignored.", "HELP",
                 "    Print this help."});
  }

  // --- Keys ---

  static Outcome Get(C c, Args a, Context& ctx) {
    if (!c.KeyOk(a[1])) return c.Error(ctx, Cmd::kGet, c.key_error_);
    bool hit = c.store_->Get(KeyFor(a[1], ctx), ctx.now_ms, [&](std::string_view value) {
      // Copied under the shard lock straight into the output: no intermediate buffer.
      AppendBulk(ctx.out, value);
    });
    if (hit) {
      ctx.metrics->hits.Add();
      return {Cmd::kGet, Result::kHit};
    }
    ctx.metrics->misses.Add();
    AppendNullBulk(ctx.out);
    return {Cmd::kGet, Result::kMiss};
  }

  static Outcome WriteError(C c, Context& ctx, Cmd cmd, store::SetResult r) {
    switch (r) {
      case store::SetResult::kNoMemory: return c.Error(ctx, cmd, kOom);
      case store::SetResult::kNotInteger: return c.Error(ctx, cmd, kNotInteger);
      case store::SetResult::kOverflow: return c.Error(ctx, cmd, kIncrOverflow);
      default: return c.Error(ctx, cmd, "ERR internal error");  // not asked for by the caller
    }
  }

  // SET key value [NX|XX] [GET] [EX seconds|PX milliseconds|KEEPTTL], in any order, as Redis
  // parses them: NX with XX, and EX/PX/KEEPTTL with each other (EX twice is allowed: the last
  // wins) are syntax errors; the expiry is read only once the syntax is known to be right.
  static Outcome Set(C c, Args a, Context& ctx) {
    enum Unit { kNone, kEx, kPx, kExAt, kPxAt };
    bool nx = false, xx = false, get = false, keepttl = false;
    Unit unit = kNone;
    std::string_view expire;
    for (size_t j = 3; j < a.size(); ++j) {
      const std::string_view o = a[j];
      const bool next = j + 1 < a.size();
      if (EqualsLower(o, "nx") && !xx) {
        nx = true;
      } else if (EqualsLower(o, "xx") && !nx) {
        xx = true;
      } else if (EqualsLower(o, "get")) {
        get = true;
      } else if (EqualsLower(o, "keepttl") && unit == kNone) {
        keepttl = true;
      } else if (next && !keepttl && (EqualsLower(o, "ex") || EqualsLower(o, "px") ||
                                      EqualsLower(o, "exat") || EqualsLower(o, "pxat"))) {
        Unit u = EqualsLower(o, "ex") ? kEx : EqualsLower(o, "px") ? kPx : EqualsLower(o, "exat") ? kExAt : kPxAt;
        if (unit != kNone && unit != u) return c.Error(ctx, Cmd::kSet, kSyntaxError);
        unit = u;
        expire = a[++j];
      } else {
        return c.Error(ctx, Cmd::kSet, kSyntaxError);
      }
    }
    uint64_t ttl_ms = c.config_->ttl_ms;
    if (unit == kExAt || unit == kPxAt) return c.Error(ctx, Cmd::kSet, kAbsoluteExpiry);
    if (unit != kNone) {
      int64_t n;
      if (!ParseInteger(expire, &n)) return c.Error(ctx, Cmd::kSet, kNotInteger);
      const int64_t max = unit == kEx ? int64_t(store::kMaxTtlMs / 1000) : int64_t(store::kMaxTtlMs);
      if (n <= 0 || n > max) return c.Error(ctx, Cmd::kSet, "ERR invalid expire time in 'set' command");
      ttl_ms = unit == kEx ? uint64_t(n) * 1000 : uint64_t(n);
    }
    if (!c.KeyOk(a[1])) return c.Error(ctx, Cmd::kSet, c.key_error_);
    if (a[2].size() > c.max_value_) return c.Error(ctx, Cmd::kSet, c.value_error_);

    store::HashedKey key = KeyFor(a[1], ctx);
    store::WriteOptions opts;
    opts.ttl_ms = ttl_ms;
    opts.keep_ttl = keepttl;
    opts.mode = nx ? store::SetMode::kIfAbsent : xx ? store::SetMode::kIfPresent : store::SetMode::kAlways;
    if (!get) {
      store::SetResult r = c.store_->Write(key, a[2], opts, ctx.now_ms).status;
      if (r == store::SetResult::kStored) {
        AppendOk(ctx.out);
      } else if (r == store::SetResult::kConditionFailed) {
        AppendNullBulk(ctx.out);
      } else {
        return WriteError(c, ctx, Cmd::kSet, r);
      }
      return Ok(Cmd::kSet);
    }

    // SET ... GET answers the value the key had. The store hands it over just before replacing
    // it, but a write can still be refused after that (kNoMemory), so it is kept aside, not
    // appended.
    std::string& old = *ctx.scratch;
    bool had_old = false;
    auto keep = [&](std::string_view v) {
      old.assign(v.data(), v.size());
      had_old = true;
    };
    absl::FunctionRef<void(std::string_view)> keep_old(keep);  // refers to `keep`: it must outlive
    opts.on_old = &keep_old;
    store::SetResult r;
    if (nx) {
      // NX fails exactly when there is an old value, which the store does not hand over when a
      // condition fails: read it first; write only if there was none. A write in between
      // (another connection creating the key) makes the NX fail: read again.
      for (;;) {
        bool present = c.store_->Get(key, ctx.now_ms, [&](std::string_view v) { old.assign(v.data(), v.size()); });
        if (present) {
          AppendBulk(ctx.out, old);
          return Ok(Cmd::kSet);
        }
        r = c.store_->Write(key, a[2], opts, ctx.now_ms).status;
        if (r != store::SetResult::kConditionFailed) break;
      }
    } else {
      r = c.store_->Write(key, a[2], opts, ctx.now_ms).status;
    }
    if (r != store::SetResult::kStored && r != store::SetResult::kConditionFailed) {
      return WriteError(c, ctx, Cmd::kSet, r);
    }
    if (had_old) {
      AppendBulk(ctx.out, old);
    } else {
      AppendNullBulk(ctx.out);  // XX on an absent key, or nothing to replace
    }
    return Ok(Cmd::kSet);
  }

  // Checks every key argument from `from` on (step 1), before anything is done with any.
  static bool KeysOk(C c, Args a, size_t from, size_t step) {
    for (size_t i = from; i < a.size(); i += step) {
      if (!c.KeyOk(a[i])) return false;
    }
    return true;
  }

  static Outcome Delete(C c, Args a, Context& ctx, Cmd cmd) {
    if (!KeysOk(c, a, 1, 1)) return c.Error(ctx, cmd, c.key_error_);
    int64_t n = 0;
    store::Store::MultiKeyStep step(*c.store_, a.size() - 1, [&](size_t i) { return KeyFor(a[1 + i], ctx); });
    for (size_t i = 1; i < a.size(); ++i) n += step.Delete(KeyFor(a[i], ctx), ctx.now_ms) ? 1 : 0;
    AppendInteger(ctx.out, n);
    return Ok(cmd);
  }
  static Outcome Del(C c, Args a, Context& ctx) { return Delete(c, a, ctx, Cmd::kDel); }
  static Outcome Unlink(C c, Args a, Context& ctx) { return Delete(c, a, ctx, Cmd::kUnlink); }

  static Outcome Exists(C c, Args a, Context& ctx) {
    if (!KeysOk(c, a, 1, 1)) return c.Error(ctx, Cmd::kExists, c.key_error_);
    int64_t n = 0;  // a key named twice counts twice, as in Redis
    // TtlMs finds a live key without counting a read for eviction (Redis's EXISTS does not touch).
    store::Store::MultiKeyStep step(*c.store_, a.size() - 1, [&](size_t i) { return KeyFor(a[1 + i], ctx); });
    for (size_t i = 1; i < a.size(); ++i) n += step.TtlMs(KeyFor(a[i], ctx), ctx.now_ms) >= 0 ? 1 : 0;
    AppendInteger(ctx.out, n);
    return Ok(Cmd::kExists);
  }

  // EXPIRE/PEXPIRE key n [NX|XX|GT|LT]. Redis's order: the options, the number, its range, then
  // the key. Every kvd key has an expiry, so NX (only if it has none) never sets one and XX is
  // always satisfied; GT/LT compare with the current one.
  static Outcome ExpireGeneric(C c, Args a, Context& ctx, Cmd cmd, bool ms) {
    bool nx = false, xx = false, gt = false, lt = false;
    for (size_t j = 3; j < a.size(); ++j) {
      if (EqualsLower(a[j], "nx")) {
        nx = true;
      } else if (EqualsLower(a[j], "xx")) {
        xx = true;
      } else if (EqualsLower(a[j], "gt")) {
        gt = true;
      } else if (EqualsLower(a[j], "lt")) {
        lt = true;
      } else {
        ctx.scratch->assign("ERR Unsupported option ");
        AppendCString(ctx.scratch, a[j], a[j].size());
        return c.Error(ctx, cmd, *ctx.scratch);
      }
    }
    if (nx && (xx || gt || lt)) {
      return c.Error(ctx, cmd, "ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if (gt && lt) return c.Error(ctx, cmd, "ERR GT and LT options at the same time are not compatible");
    int64_t n;
    if (!ParseInteger(a[2], &n)) return c.Error(ctx, cmd, kNotInteger);
    const std::string_view invalid = ms ? "ERR invalid expire time in 'pexpire' command"
                                        : "ERR invalid expire time in 'expire' command";
    if (!ms && (n > INT64_MAX / 1000 || n < INT64_MIN / 1000)) return c.Error(ctx, cmd, invalid);
    const int64_t ttl = ms ? n : n * 1000;
    if (ttl > int64_t(store::kMaxTtlMs)) return c.Error(ctx, cmd, invalid);
    if (!c.KeyOk(a[1])) return c.Error(ctx, cmd, c.key_error_);
    store::HashedKey key = KeyFor(a[1], ctx);
    // The comparison with the current expiry and the change are one step, as in Redis.
    store::Store::MultiKeyStep step(*c.store_, 1, [&](size_t) { return key; });
    if (nx || gt || lt) {
      int64_t now_ttl = step.TtlMs(key, ctx.now_ms);
      if (now_ttl < 0 || nx || (gt && ttl <= now_ttl) || (lt && ttl >= now_ttl)) {
        AppendInteger(ctx.out, 0);
        return Ok(cmd);
      }
    }
    bool done = ttl <= 0 ? step.Delete(key, ctx.now_ms)  // a time in the past: gone now
                         : step.SetTtl(key, uint64_t(ttl), ctx.now_ms);
    AppendInteger(ctx.out, done ? 1 : 0);
    return Ok(cmd);
  }
  static Outcome Expire(C c, Args a, Context& ctx) { return ExpireGeneric(c, a, ctx, Cmd::kExpire, false); }
  static Outcome Pexpire(C c, Args a, Context& ctx) { return ExpireGeneric(c, a, ctx, Cmd::kPexpire, true); }

  static Outcome TtlGeneric(C c, Args a, Context& ctx, Cmd cmd, bool ms) {
    if (!c.KeyOk(a[1])) return c.Error(ctx, cmd, c.key_error_);
    int64_t t = c.store_->TtlMs(KeyFor(a[1], ctx), ctx.now_ms);
    // -2: absent. Never -1 (no expiry): every kvd key has one. TTL rounds to the nearest second.
    AppendInteger(ctx.out, t < 0 ? -2 : ms ? t : (t + 500) / 1000);
    return Ok(cmd);
  }
  static Outcome Ttl(C c, Args a, Context& ctx) { return TtlGeneric(c, a, ctx, Cmd::kTtl, false); }
  static Outcome Pttl(C c, Args a, Context& ctx) { return TtlGeneric(c, a, ctx, Cmd::kPttl, true); }

  static Outcome Persist(C c, Args, Context& ctx) { return c.Error(ctx, Cmd::kPersist, kPersistRefused); }

  // INCR and friends: a missing key counts as 0 and gets the default expiry; an existing one keeps
  // its own (Redis leaves a key's TTL alone on INCR).
  static Outcome IncrGeneric(C c, Args a, Context& ctx, Cmd cmd, int64_t delta) {
    if (!c.KeyOk(a[1])) return c.Error(ctx, cmd, c.key_error_);
    store::WriteOptions opts;
    opts.ttl_ms = c.config_->ttl_ms;
    opts.keep_ttl = true;
    int64_t result = 0;
    store::SetResult r = c.store_->Incr(KeyFor(a[1], ctx), delta, opts, ctx.now_ms, &result).status;
    if (r != store::SetResult::kStored) return WriteError(c, ctx, cmd, r);
    AppendInteger(ctx.out, result);
    return Ok(cmd);
  }
  static Outcome Incr(C c, Args a, Context& ctx) { return IncrGeneric(c, a, ctx, Cmd::kIncr, 1); }
  static Outcome Decr(C c, Args a, Context& ctx) { return IncrGeneric(c, a, ctx, Cmd::kDecr, -1); }
  static Outcome IncrBy(C c, Args a, Context& ctx) {
    int64_t d;
    if (!ParseInteger(a[2], &d)) return c.Error(ctx, Cmd::kIncrBy, kNotInteger);
    return IncrGeneric(c, a, ctx, Cmd::kIncrBy, d);
  }
  static Outcome DecrBy(C c, Args a, Context& ctx) {
    int64_t d;
    if (!ParseInteger(a[2], &d)) return c.Error(ctx, Cmd::kDecrBy, kNotInteger);
    if (d == INT64_MIN) return c.Error(ctx, Cmd::kDecrBy, kDecrOverflow);  // -d does not exist
    return IncrGeneric(c, a, ctx, Cmd::kDecrBy, -d);
  }

  static Outcome Mget(C c, Args a, Context& ctx) {
    if (!KeysOk(c, a, 1, 1)) return c.Error(ctx, Cmd::kMget, c.key_error_);
    AppendArrayHeader(ctx.out, a.size() - 1);
    // One step: the values are those of one moment, never half of a concurrent MSET's.
    store::Store::MultiKeyStep step(*c.store_, a.size() - 1, [&](size_t i) { return KeyFor(a[1 + i], ctx); });
    for (size_t i = 1; i < a.size(); ++i) {
      bool hit = step.Get(KeyFor(a[i], ctx), ctx.now_ms, [&](std::string_view v) { AppendBulk(ctx.out, v); });
      if (hit) {
        ctx.metrics->hits.Add();
      } else {
        ctx.metrics->misses.Add();
        AppendNullBulk(ctx.out);
      }
    }
    return Ok(Cmd::kMget);
  }

  // The pairs are written in one step (Store::MultiKeyStep): a reader of the keys (GET, MGET,
  // HTTP) sees all of them written or none, as in Redis. Every pair is checked before the first
  // is written; a write refused for memory leaves the pairs before it written.
  static Outcome Mset(C c, Args a, Context& ctx) {
    if (a.size() % 2 == 0) return ArityError(c, ctx, Cmd::kMset, "mset");
    if (!KeysOk(c, a, 1, 2)) return c.Error(ctx, Cmd::kMset, c.key_error_);
    for (size_t i = 2; i < a.size(); i += 2) {
      if (a[i].size() > c.max_value_) return c.Error(ctx, Cmd::kMset, c.value_error_);
    }
    store::WriteOptions opts;
    opts.ttl_ms = c.config_->ttl_ms;
    store::Store::MultiKeyStep step(*c.store_, a.size() / 2, [&](size_t i) { return KeyFor(a[1 + 2 * i], ctx); });
    for (size_t i = 1; i < a.size(); i += 2) {
      store::SetResult r = step.Write(KeyFor(a[i], ctx), a[i + 1], opts, ctx.now_ms).status;
      if (r != store::SetResult::kStored) return WriteError(c, ctx, Cmd::kMset, r);
    }
    AppendOk(ctx.out);
    return Ok(Cmd::kMset);
  }

  static Outcome Dbsize(C c, Args, Context& ctx) {
    AppendInteger(ctx.out, int64_t(c.store_->Size(ctx.now_ms)));
    return Ok(Cmd::kDbsize);
  }

  // --- Server ---

  static Outcome Info(C c, Args a, Context& ctx);
  static Outcome ConfigGet(C c, Args a, Context& ctx);
  static Outcome ConfigSet(C c, Args, Context& ctx) { return c.Error(ctx, Cmd::kConfig, kConfigSetRefused); }
  static Outcome ConfigHelp(C, Args, Context& ctx) {
    return Help(ctx, Cmd::kConfig,
                {"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                 "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
                 "HELP", "    Print this help."});
  }

  static void AppendSpec(Buffer* out, const Commands::Spec& s);
  static Outcome Command(C c, Args a, Context& ctx);
  static Outcome CommandCount(C c, Args a, Context& ctx);
  static Outcome CommandInfo(C c, Args a, Context& ctx);
  static void AppendDoc(Buffer* out, const Commands::Spec& s);
  static Outcome CommandDocs(C c, Args a, Context& ctx);
  static Outcome CommandList(C c, Args a, Context& ctx);
  static Outcome CommandHelp(C, Args, Context& ctx) {
    return Help(ctx, Cmd::kCommand,
                {"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "(no subcommand)",
                 "    Return details about all commands.", "COUNT", "    Return the total number of commands.",
                 "DOCS [<command-name> ...]", "    Return documentation (kvd has none: an empty array).",
                 "INFO [<command-name> ...]", "    Return details about the named commands, or all of them.",
                 "LIST", "    Return the names of all commands.", "HELP", "    Print this help."});
  }
};

namespace {

using H = Handlers;

// The command table. Arity, flags, key positions and ACL categories are Redis 7.0's (COMMAND INFO
// on redis-server 7.0.15), for the flags kvd has.
constexpr Commands::Spec kClientSubs[] = {
    {"client|getname", Cmd::kClient, 2, kNoScript | kLoading | kStale, 0, 0, 0, "@slow @connection",
     H::ClientGetname, {}, "connection", "2.6.9",
     "Return the name of the connection."},
    {"client|help", Cmd::kClient, 2, kLoading | kStale, 0, 0, 0, "@slow @connection",
     H::ClientHelp, {}, "connection", "5.0.0",
     "Show CLIENT's subcommands."},
    {"client|id", Cmd::kClient, 2, kNoScript | kLoading | kStale, 0, 0, 0, "@slow @connection",
     H::ClientId, {}, "connection", "5.0.0",
     "Return the connection's id."},
    {"client|info", Cmd::kClient, 2, kNoScript | kLoading | kStale, 0, 0, 0, "@slow @connection",
     H::ClientInfo, {}, "connection", "6.2.0",
     "Return information about the connection."},
    {"client|setinfo", Cmd::kClient, 4, kNoScript | kLoading | kStale, 0, 0, 0, "@slow @connection",
     H::ClientSetinfo, {}, "connection", "7.2.0",
     "Accepted for client libraries; the values are ignored."},
    {"client|setname", Cmd::kClient, 3, kNoScript | kLoading | kStale, 0, 0, 0, "@slow @connection",
     H::ClientSetname, {}, "connection", "2.6.9",
     "Name the connection."},
};
constexpr Commands::Spec kConfigSubs[] = {
    {"config|get", Cmd::kConfig, -3, kAdmin | kNoScript | kLoading | kStale, 0, 0, 0, "@admin @slow @dangerous",
     H::ConfigGet, {}, "server", "2.0.0",
     "Return the parameters matching glob patterns, and their values."},
    {"config|help", Cmd::kConfig, 2, kLoading | kStale, 0, 0, 0, "@slow",
     H::ConfigHelp, {}, "server", "5.0.0",
     "Show CONFIG's subcommands."},
    {"config|set", Cmd::kConfig, -4, kAdmin | kNoScript | kLoading | kStale, 0, 0, 0, "@admin @slow @dangerous",
     H::ConfigSet, {}, "server", "2.0.0",
     "Refused: kvd's settings are its command-line flags."},
};
constexpr Commands::Spec kCommandSubs[] = {
    {"command|count", Cmd::kCommand, 2, kLoading | kStale, 0, 0, 0, "@slow @connection",
     H::CommandCount, {}, "server", "2.8.13",
     "Return the number of commands."},
    {"command|docs", Cmd::kCommand, -2, kLoading | kStale, 0, 0, 0, "@slow @connection",
     H::CommandDocs, {}, "server", "7.0.0",
     "Return the commands' documentation."},
    {"command|help", Cmd::kCommand, 2, kLoading | kStale, 0, 0, 0, "@slow @connection",
     H::CommandHelp, {}, "server", "5.0.0",
     "Show COMMAND's subcommands."},
    {"command|info", Cmd::kCommand, -2, kLoading | kStale, 0, 0, 0, "@slow @connection",
     H::CommandInfo, {}, "server", "2.8.13",
     "Return details about commands."},
    {"command|list", Cmd::kCommand, -2, kLoading | kStale, 0, 0, 0, "@slow @connection",
     H::CommandList, {}, "server", "7.0.0",
     "Return the names of all commands."},
};
// GET and SET first: dispatch scans in order.
constexpr Commands::Spec kTable[] = {
    {"get", Cmd::kGet, 2, kReadonly | kFast, 1, 1, 1, "@read @string @fast",
     H::Get, {}, "string", "1.0.0",
     "Get the value of a key."},
    {"set", Cmd::kSet, -3, kWrite | kDenyOom, 1, 1, 1, "@write @string @slow",
     H::Set, {}, "string", "1.0.0",
     "Set a key's value, with an expiry (the default TTL unless EX, PX or KEEPTTL), NX, XX and GET."},
    {"del", Cmd::kDel, -2, kWrite, 1, -1, 1, "@keyspace @write @slow",
     H::Del, {}, "generic", "1.0.0",
     "Delete keys; returns how many existed."},
    {"unlink", Cmd::kUnlink, -2, kWrite | kFast, 1, -1, 1, "@keyspace @write @fast",
     H::Unlink, {}, "generic", "4.0.0",
     "Delete keys (as DEL)."},
    {"exists", Cmd::kExists, -2, kReadonly | kFast, 1, -1, 1, "@keyspace @read @fast",
     H::Exists, {}, "generic", "3.0.3",
     "Count how many of the keys exist."},
    {"expire", Cmd::kExpire, -3, kWrite | kFast, 1, 1, 1, "@keyspace @write @fast",
     H::Expire, {}, "generic", "1.0.0",
     "Set a key's time to live in seconds (at most 24 days)."},
    {"pexpire", Cmd::kPexpire, -3, kWrite | kFast, 1, 1, 1, "@keyspace @write @fast",
     H::Pexpire, {}, "generic", "2.6.0",
     "Set a key's time to live in milliseconds (at most 24 days)."},
    {"ttl", Cmd::kTtl, 2, kReadonly | kFast, 1, 1, 1, "@keyspace @read @fast",
     H::Ttl, {}, "generic", "1.0.0",
     "Return a key's time to live in seconds (-2: absent)."},
    {"pttl", Cmd::kPttl, 2, kReadonly | kFast, 1, 1, 1, "@keyspace @read @fast",
     H::Pttl, {}, "generic", "2.6.0",
     "Return a key's time to live in milliseconds (-2: absent)."},
    {"persist", Cmd::kPersist, 2, kWrite | kFast, 1, 1, 1, "@keyspace @write @fast",
     H::Persist, {}, "generic", "2.2.0",
     "Refused: every kvd key expires."},
    {"incr", Cmd::kIncr, 2, kWrite | kDenyOom | kFast, 1, 1, 1, "@write @string @fast",
     H::Incr, {}, "string", "1.0.0",
     "Increment an integer value by one."},
    {"incrby", Cmd::kIncrBy, 3, kWrite | kDenyOom | kFast, 1, 1, 1, "@write @string @fast",
     H::IncrBy, {}, "string", "1.0.0",
     "Increment an integer value by a number."},
    {"decr", Cmd::kDecr, 2, kWrite | kDenyOom | kFast, 1, 1, 1, "@write @string @fast",
     H::Decr, {}, "string", "1.0.0",
     "Decrement an integer value by one."},
    {"decrby", Cmd::kDecrBy, 3, kWrite | kDenyOom | kFast, 1, 1, 1, "@write @string @fast",
     H::DecrBy, {}, "string", "1.0.0",
     "Decrement an integer value by a number."},
    {"mget", Cmd::kMget, -2, kReadonly | kFast, 1, -1, 1, "@read @string @fast",
     H::Mget, {}, "string", "1.0.0",
     "Get the values of keys."},
    {"mset", Cmd::kMset, -3, kWrite | kDenyOom, 1, -1, 2, "@write @string @slow",
     H::Mset, {}, "string", "1.0.1",
     "Set keys' values (one key at a time: not atomic)."},
    {"dbsize", Cmd::kDbsize, 1, kReadonly | kFast, 0, 0, 0, "@keyspace @read @fast",
     H::Dbsize, {}, "server", "1.0.0",
     "Return the number of keys."},
    {"select", Cmd::kSelect, 2, kLoading | kStale | kFast, 0, 0, 0, "@fast @connection",
     H::Select, {}, "connection", "1.0.0",
     "Select the database: kvd has only 0."},
    {"ping", Cmd::kPing, -1, kFast, 0, 0, 0, "@fast @connection",
     H::Ping, {}, "connection", "1.0.0",
     "Return PONG, or the argument."},
    {"echo", Cmd::kEcho, 2, kLoading | kStale | kFast, 0, 0, 0, "@fast @connection",
     H::Echo, {}, "connection", "1.0.0",
     "Return the argument."},
    {"info", Cmd::kInfo, -1, kLoading | kStale, 0, 0, 0, "@slow @dangerous",
     H::Info, {}, "server", "1.0.0",
     "Return information and statistics about the server."},
    {"command", Cmd::kCommand, -1, kLoading | kStale, 0, 0, 0, "@slow @connection",
     H::Command, kCommandSubs, "server", "2.8.13",
     "Return details about all commands."},
    {"config", Cmd::kConfig, -2, 0, 0, 0, 0, "@slow",
     nullptr, kConfigSubs, "server", "2.0.0",
     "CONFIG GET."},
    {"hello", Cmd::kHello, -1, kNoScript | kLoading | kStale | kFast | kNoAuth | kAllowBusy, 0, 0, 0,
     "@fast @connection",
     H::Hello, {}, "connection", "6.0.0",
     "Handshake: RESP2 only, with optional AUTH and SETNAME."},
    {"client", Cmd::kClient, -2, 0, 0, 0, 0, "@slow",
     nullptr, kClientSubs, "connection", "2.4.0",
     "CLIENT GETNAME, SETNAME, ID, INFO."},
    {"auth", Cmd::kAuth, -2, kNoScript | kLoading | kStale | kFast | kNoAuth | kAllowBusy, 0, 0, 0,
     "@fast @connection",
     H::Auth, {}, "connection", "1.0.0",
     "Authenticate the connection (with --auth-token)."},
    {"quit", Cmd::kQuit, -1, kNoScript | kLoading | kStale | kFast | kNoAuth | kAllowBusy, 0, 0, 0,
     "@fast @connection",
     H::Quit, {}, "connection", "1.0.0",
     "Close the connection."},
};

// The command named `name`, ignoring case.
const Commands::Spec* Find(std::string_view name) {
  for (const Commands::Spec& s : kTable) {
    if (EqualsLower(name, s.name)) return &s;
  }
  return nullptr;
}

// The container's subcommand named `name` (its entries are "container|name").
const Commands::Spec* FindSub(const Commands::Spec& container, std::string_view name) {
  const size_t skip = container.name.size() + 1;
  for (const Commands::Spec& s : container.subs) {
    if (EqualsLower(name, s.name.substr(skip))) return &s;
  }
  return nullptr;
}

// "get", or "config|get" (as COMMAND INFO takes them).
const Commands::Spec* FindFull(std::string_view name) {
  size_t bar = name.find('|');
  const Commands::Spec* s = Find(name.substr(0, bar));
  if (s == nullptr || bar == std::string_view::npos) return s;
  return FindSub(*s, name.substr(bar + 1));
}

bool ArityOk(int arity, size_t n) { return arity >= 0 ? n == size_t(arity) : n >= size_t(-arity); }

}  // namespace

void Handlers::AppendSpec(Buffer* out, const Commands::Spec& s) {
  AppendArrayHeader(out, 10);
  AppendBulk(out, s.name);
  AppendInteger(out, s.arity);
  AppendArrayHeader(out, size_t(__builtin_popcount(s.flags)));
  for (size_t i = 0; i < std::size(kFlagNames); ++i) {
    if (s.flags & (1u << i)) AppendSimple(out, kFlagNames[i]);
  }
  AppendInteger(out, s.first_key);
  AppendInteger(out, s.last_key);
  AppendInteger(out, s.step);
  AppendArrayHeader(out, size_t(std::count(s.acl.begin(), s.acl.end(), '@')));
  for (std::string_view rest = s.acl; !rest.empty();) {
    size_t sp = rest.find(' ');
    AppendSimple(out, rest.substr(0, sp));
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
  }
  AppendArrayHeader(out, 0);  // tips
  AppendArrayHeader(out, 0);  // key specifications: the first/last/step above describe them
  AppendArrayHeader(out, s.subs.size());
  for (const Commands::Spec& sub : s.subs) AppendSpec(out, sub);
}

Outcome Handlers::Command(C, Args, Context& ctx) {
  AppendArrayHeader(ctx.out, std::size(kTable));
  for (const Commands::Spec& s : kTable) AppendSpec(ctx.out, s);
  return Ok(Cmd::kCommand);
}

Outcome Handlers::CommandCount(C, Args, Context& ctx) {
  AppendInteger(ctx.out, int64_t(std::size(kTable)));
  return Ok(Cmd::kCommand);
}

Outcome Handlers::CommandInfo(C c, Args a, Context& ctx) {
  if (a.size() == 2) return Command(c, a, ctx);  // no names: all of them, as Redis 7
  AppendArrayHeader(ctx.out, a.size() - 2);
  for (size_t i = 2; i < a.size(); ++i) {
    if (const Commands::Spec* s = FindFull(a[i])) {
      AppendSpec(ctx.out, *s);
    } else {
      AppendNullBulk(ctx.out);
    }
  }
  return Ok(Cmd::kCommand);
}

void Handlers::AppendDoc(Buffer* out, const Commands::Spec& s) {
  // A RESP2 map is an array of keys and values.
  AppendArrayHeader(out, s.subs.empty() ? 6 : 8);
  AppendBulk(out, "summary");
  AppendBulk(out, s.summary);
  AppendBulk(out, "since");
  AppendBulk(out, s.since);
  AppendBulk(out, "group");
  AppendBulk(out, s.group);
  if (s.subs.empty()) return;
  AppendBulk(out, "subcommands");
  AppendArrayHeader(out, 2 * s.subs.size());
  for (const Commands::Spec& sub : s.subs) {
    AppendBulk(out, sub.name);
    AppendDoc(out, sub);
  }
}

// redis-cli 7 reads these on start for its `help`; without "arguments" it shows no argument hints.
Outcome Handlers::CommandDocs(C, Args a, Context& ctx) {
  if (a.size() == 2) {
    AppendArrayHeader(ctx.out, 2 * std::size(kTable));
    for (const Commands::Spec& s : kTable) {
      AppendBulk(ctx.out, s.name);
      AppendDoc(ctx.out, s);
    }
    return Ok(Cmd::kCommand);
  }
  size_t found = 0;  // unknown names are left out, as in Redis
  for (size_t i = 2; i < a.size(); ++i) found += FindFull(a[i]) != nullptr;
  AppendArrayHeader(ctx.out, 2 * found);
  for (size_t i = 2; i < a.size(); ++i) {
    if (const Commands::Spec* s = FindFull(a[i])) {
      AppendBulk(ctx.out, s->name);
      AppendDoc(ctx.out, *s);
    }
  }
  return Ok(Cmd::kCommand);
}

Outcome Handlers::CommandList(C c, Args a, Context& ctx) {
  if (a.size() > 2) return c.Error(ctx, Cmd::kCommand, kSyntaxError);  // FILTERBY: not supported
  AppendArrayHeader(ctx.out, std::size(kTable));
  for (const Commands::Spec& s : kTable) AppendBulk(ctx.out, s.name);
  return Ok(Cmd::kCommand);
}

Outcome Handlers::ConfigGet(C c, Args a, Context& ctx) {
  // Each parameter once, however many patterns match it, in the table's order. A pattern without
  // glob characters names one parameter, answered with the caller's spelling (as Redis does).
  std::vector<std::string_view> spelled(c.params_.size());
  size_t matched = 0;
  for (size_t i = 2; i < a.size(); ++i) {
    for (size_t p = 0; p < c.params_.size(); ++p) {
      const std::string& name = c.params_[p].first;
      bool m = IsGlob(a[i]) ? GlobMatch(a[i], name) : EqualsIgnoreCase(a[i], name);
      if (m && spelled[p].data() == nullptr) {
        spelled[p] = IsGlob(a[i]) ? std::string_view(name) : a[i];
        ++matched;
      }
    }
  }
  AppendArrayHeader(ctx.out, 2 * matched);
  for (size_t p = 0; p < c.params_.size(); ++p) {
    if (spelled[p].data() == nullptr) continue;
    AppendBulk(ctx.out, spelled[p]);
    AppendBulk(ctx.out, c.params_[p].second);
  }
  return Ok(Cmd::kConfig);
}

Outcome Handlers::Info(C c, Args a, Context& ctx) {
  enum : uint32_t {
    kServer = 1, kClients = 2, kMemory = 4, kPersistence = 8, kStats = 16, kReplication = 32,
    kCommandstats = 64, kKeyspace = 128,
    kAll = 255, kDefault = kAll & ~kCommandstats,
  };
  static constexpr std::pair<std::string_view, uint32_t> kSections[] = {
      {"server", kServer}, {"clients", kClients}, {"memory", kMemory}, {"persistence", kPersistence},
      {"stats", kStats}, {"replication", kReplication}, {"commandstats", kCommandstats},
      {"keyspace", kKeyspace}, {"default", kDefault}, {"all", kAll}, {"everything", kAll},
  };
  uint32_t want = a.size() == 1 ? uint32_t(kDefault) : 0;
  for (size_t i = 1; i < a.size(); ++i) {
    for (const auto& [name, bits] : kSections) {
      if (EqualsLower(a[i], name)) want |= bits;  // an unknown section adds nothing, as in Redis
    }
  }

  // Summed over reactors: each one's counters have one writer and are read relaxed. Clients and
  // bytes are RESP's; keyspace hits and misses are both protocols' (one keyspace).
  uint64_t open = 0, accepted = 0, refused = 0, in = 0, out = 0, hits = 0, misses = 0, http = 0;
  for (const metrics::ReactorMetrics* r : *c.reactors_) {
    const metrics::ConnectionMetrics& resp = r->connections[size_t(metrics::Protocol::kResp)];
    open += uint64_t(std::max<int64_t>(0, resp.open.Get()));
    accepted += resp.accepted.Get();
    refused += r->connections_rejected.Get();
    in += resp.bytes_read.Get();
    out += resp.bytes_written.Get();
    hits += r->hits.Get();
    misses += r->misses.Get();
    http += r->requests.Get();
  }
  std::array<uint64_t, size_t(Cmd::kCount)> calls{}, rejected{}, failed{};
  uint64_t commands = 0;
  for (const CommandStats* s : *c.stats_) {
    for (size_t i = 0; i < size_t(Cmd::kCount); ++i) {
      calls[i] += s->calls[i].Get();
      rejected[i] += s->rejected[i].Get();
      failed[i] += s->failed[i].Get();
      commands += s->calls[i].Get();
    }
  }
  store::ShardStats st;
  if (want & (kMemory | kStats | kKeyspace)) st = c.store_->Stats(ctx.now_ms);

  std::string& s = *ctx.scratch;
  s.clear();
  auto w = std::back_inserter(s);
  auto section = [&](std::string_view title) {
    if (!s.empty()) s += "\r\n";
    s += "# ";
    s += title;
    s += "\r\n";
  };
  if (want & kServer) {
    const uint64_t up = ctx.now_ms > c.server_.start_ms ? (ctx.now_ms - c.server_.start_ms) / 1000 : 0;
    section("Server");
    fmt::format_to(w,
                   "redis_version:{}\r\nkvd_version:{}\r\nredis_mode:standalone\r\nos:{}\r\narch_bits:{}\r\n"
                   "multiplexing_api:epoll\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\n"
                   "uptime_in_seconds:{}\r\nuptime_in_days:{}\r\n",
                   kRedisVersion, KVD_VERSION, c.os_, sizeof(void*) * 8, c.pid_, c.run_id_,
                   c.server_.tcp_port, up, up / 86400);
  }
  if (want & kClients) {
    section("Clients");
    fmt::format_to(w, "connected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\n", open,
                   c.config_->max_connections);
  }
  if (want & kMemory) {
    section("Memory");
    // used_memory is what --max-memory is checked against (Redis compares its used_memory with
    // maxmemory the same way); connection buffers are outside it.
    fmt::format_to(w, "used_memory:{}\r\nused_memory_human:{}\r\n", st.bytes_held, BytesToHuman(st.bytes_held));
    if (std::optional<metrics::ProcessStats> p = metrics::ReadProcessStats()) {
      fmt::format_to(w, "used_memory_rss:{}\r\nused_memory_rss_human:{}\r\n", p->resident_bytes,
                     BytesToHuman(p->resident_bytes));
      if (st.bytes_held > 0) {
        fmt::format_to(w, "mem_fragmentation_ratio:{:.2f}\r\n", double(p->resident_bytes) / double(st.bytes_held));
      }
    }
    const uint64_t limit = c.store_->memory_limit();
    fmt::format_to(w, "maxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:s3fifo\r\n", limit,
                   BytesToHuman(limit));
  }
  if (want & kPersistence) {
    section("Persistence");
    s += "loading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\n"
         "rdb_last_bgsave_status:ok\r\naof_enabled:0\r\naof_rewrite_in_progress:0\r\n";
  }
  if (want & kStats) {
    section("Stats");
    // Both protocols share the server: commands are RESP commands run plus HTTP requests.
    fmt::format_to(w,
                   "total_connections_received:{}\r\ntotal_commands_processed:{}\r\n"
                   "total_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\n"
                   "expired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\n",
                   accepted, commands + http, in, out, refused, st.expired,
                   st.evicted_small + st.evicted_main, hits, misses);
  }
  if (want & kReplication) {
    section("Replication");
    s += "role:master\r\nconnected_slaves:0\r\n";
  }
  if (want & kCommandstats) {
    section("Commandstats");
    for (size_t i = 1; i < size_t(Cmd::kCount); ++i) {
      if (calls[i] == 0 && rejected[i] == 0) continue;
      fmt::format_to(w, "cmdstat_{}:calls={},rejected_calls={},failed_calls={}\r\n", CmdName(Cmd(i)),
                     calls[i], rejected[i], failed[i]);
    }
  }
  if (want & kKeyspace) {
    section("Keyspace");
    if (st.keys > 0) fmt::format_to(w, "db0:keys={},expires={},avg_ttl=0\r\n", st.keys, st.keys);
  }
  AppendBulk(ctx.out, s);
  return Ok(Cmd::kInfo);
}

Commands::Commands(const Config* config, store::Store* store,
                   const std::vector<const metrics::ReactorMetrics*>* reactors,
                   const std::vector<const CommandStats*>* stats, Server server)
    : config_(config),
      store_(store),
      reactors_(reactors),
      stats_(stats),
      server_(server),
      max_key_(std::min(config->max_key_bytes, store::kMaxKeyLen)),
      max_value_(std::min(config->max_value_bytes, store::kMaxValueLen)),
      pid_(int(getpid())) {
  key_error_ = fmt::format("ERR invalid key: kvd keys are 1 to {} bytes", max_key_);
  value_error_ = fmt::format("ERR value too large: kvd values are at most {} bytes", max_value_);
  struct utsname u;
  if (uname(&u) == 0) os_ = fmt::format("{} {} {}", u.sysname, u.release, u.machine);
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 40; ++i) run_id_ += kHex[rd() % 16];
  // Tools read these at start (redis-benchmark: save and appendonly, warning unless "" and "no").
  params_ = {
      {"save", ""},
      {"appendonly", "no"},
      {"databases", "1"},
      {"maxmemory", std::to_string(store->memory_limit())},
      {"maxmemory-policy", "s3fifo"},
      {"maxclients", std::to_string(config->max_connections)},
      {"port", std::to_string(server.tcp_port)},
      {"bind", config->bind},
      {"timeout", std::to_string(absl::ToInt64Seconds(config->idle_timeout))},
  };
}

store::HashedKey Commands::Prefetch(Args args) const {
  if (args.size() < 2) return {};
  const Spec* s = Find(args[0]);
  if (s == nullptr || s->first_key != 1 || !KeyOk(args[1])) return {};
  store::HashedKey key(args[1]);
  store_->Prefetch(key);
  return key;
}

Outcome Commands::Handle(Args a, Context& ctx) const {
  ctx.metrics->commands.Add();
  const Spec* spec = Find(a[0]);
  if (spec == nullptr) {
    // Redis 7's form: the name and the first arguments, each as %.128s would print it, the
    // arguments until 128 bytes of them are shown.
    std::string& m = *ctx.scratch;
    m.assign("ERR unknown command '");
    AppendCString(&m, a[0], 128);
    m += "', with args beginning with: ";
    const size_t args_from = m.size();
    for (size_t i = 1; i < a.size() && m.size() - args_from < 128; ++i) {
      size_t shown = m.size() - args_from;
      m += '\'';
      AppendCString(&m, a[i], 128 - shown);
      m += "' ";
    }
    ctx.stats->rejected[size_t(Cmd::kUnknown)].Add();
    return Error(ctx, Cmd::kUnknown, m);
  }
  if (!spec->subs.empty() && a.size() >= 2) {
    const Spec* sub = FindSub(*spec, a[1]);
    if (sub == nullptr) {
      std::string& m = *ctx.scratch;
      m.assign("ERR unknown subcommand '");
      AppendCString(&m, a[1], 128);
      m += "'. Try ";
      for (char ch : a[0]) m += ch >= 'a' && ch <= 'z' ? char(ch - ('a' - 'A')) : ch;
      m += " HELP.";
      ctx.stats->rejected[size_t(spec->cmd)].Add();
      return Error(ctx, spec->cmd, m);
    }
    spec = sub;
  }
  if (!ArityOk(spec->arity, a.size())) {
    ctx.stats->rejected[size_t(spec->cmd)].Add();
    return Handlers::ArityError(*this, ctx, spec->cmd, spec->name);
  }
  if (!(spec->flags & kNoAuth) && AuthRequired(*ctx.session)) {
    ctx.stats->rejected[size_t(spec->cmd)].Add();
    return Error(ctx, spec->cmd, kNoAuthError);
  }
  Outcome o = spec->run(*this, a, ctx);
  // Counted once run, as Redis does (so INFO does not count itself).
  ctx.stats->calls[size_t(spec->cmd)].Add();
  if (o.result == Result::kError) ctx.stats->failed[size_t(spec->cmd)].Add();
  return o;
}

void AppendMetrics(const std::vector<const CommandStats*>& stats, std::string* out) {
  std::array<uint64_t, size_t(Cmd::kCount)> calls{}, rejected{}, failed{};
  for (const CommandStats* s : stats) {
    for (size_t i = 0; i < size_t(Cmd::kCount); ++i) {
      calls[i] += s->calls[i].Get();
      rejected[i] += s->rejected[i].Get();
      failed[i] += s->failed[i].Get();
    }
  }
  metrics::Writer w(out);
  w.Family("kvd_resp_commands_total", "counter", "RESP commands run, by command.");
  for (size_t i = 0; i < size_t(Cmd::kCount); ++i) {
    // Always GET's, so that the family exists (and rate() works) before the first command.
    if (calls[i] == 0 && Cmd(i) != Cmd::kGet) continue;
    w.Sample("kvd_resp_commands_total", fmt::format("{{command=\"{}\"}}", CmdName(Cmd(i))), calls[i]);
  }
  w.Family("kvd_resp_command_errors_total", "counter",
           "RESP commands answered with an error, by command and kind: rejected (unknown, wrong "
           "arity, not authenticated) or failed (the command's own error).");
  for (size_t i = 0; i < size_t(Cmd::kCount); ++i) {
    for (auto [kind, n] : {std::pair<const char*, uint64_t>{"rejected", rejected[i]}, {"failed", failed[i]}}) {
      if (n == 0 && !(Cmd(i) == Cmd::kUnknown && std::string_view(kind) == "rejected")) continue;
      w.Sample("kvd_resp_command_errors_total",
               fmt::format("{{command=\"{}\",kind=\"{}\"}}", CmdName(Cmd(i)), kind), n);
    }
  }
}

}  // namespace kvd::resp

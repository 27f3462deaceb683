#include "router/router.h"

#include "fmt/format.h"
#include "absl/strings/match.h"
#include "http/uri.h"

namespace kvd {

using http::Method;
using metrics::Handler;

Router::Router(const Config* config, store::Store* store,
               const std::vector<const metrics::ReactorMetrics*>* reactors)
    : config_(config), store_(store), reactors_(reactors) {}

Router::Outcome Router::Reply(Context& ctx, const http::Request& req, Handler h, int status,
                              std::string_view body, std::string_view extra_headers) const {
  http::Head head;
  head.status = status;
  head.close = ctx.close;
  head.extra_headers = extra_headers;
  http::AppendResponse(ctx.out, *ctx.date, head, body, req.method == Method::kHead);
  return {status, h};
}

namespace {

// What each path takes (RFC 9110 10.2.1): sent with 405, 501 and the answer to OPTIONS.
constexpr std::string_view kKeyAllow = "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n";
constexpr std::string_view kSizeAllow = "Allow: GET, HEAD, POST, OPTIONS\r\n";
constexpr std::string_view kReadOnlyAllow = "Allow: GET, HEAD, OPTIONS\r\n";

// Compares in time that depends only on the lengths, so a client cannot find the token byte by
// byte from response times.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.size() ? b.size() : 1)]);
  return diff == 0 && !b.empty();
}

}  // namespace

bool Router::Authorized(const http::Request& req) const {
  std::string_view h = req.authorization;
  constexpr std::string_view kBearer = "Bearer ";
  if (h.size() < kBearer.size() || !absl::EqualsIgnoreCase(absl::string_view(h.data(), kBearer.size()), "bearer ")) {
    return false;
  }
  h.remove_prefix(kBearer.size());
  while (!h.empty() && h[0] == ' ') h.remove_prefix(1);  // credentials: scheme 1*SP token68
  return ConstantTimeEquals(h, config_->auth_token);
}

Router::Outcome Router::NotAllowed(Context& ctx, const http::Request& req, Handler h,
                                   std::string_view allow) const {
  // RFC 9110 9.1: 405 for a method kvd implements but not on this path, 501 for one it
  // implements nowhere.
  if (req.method != Method::kOther) return Reply(ctx, req, h, 405, "method not allowed", allow);
  return Reply(ctx, req, h, 501, "method not implemented", allow);
}

Router::Outcome Router::Handle(const http::Request& req, Context& ctx) const {
  if (req.reject_status != 0) return Reply(ctx, req, Handler::kOther, req.reject_status, req.reject_reason);
  http::Target t = http::SplitTarget(req.target);
  const bool read = req.method == Method::kGet || req.method == Method::kHead;
  if (!config_->auth_token.empty()) {
    bool open_path = t.path == "/metrics" || t.path == "/healthz";
    if ((!open_path || config_->auth_metrics) && !Authorized(req)) {
      Handler h = t.path == "/size" ? Handler::kSize : t.path == "/metrics" ? Handler::kMetrics
                : t.path == "/healthz" ? Handler::kHealthz : Handler::kKey;
      return Reply(ctx, req, h, 401, "missing or wrong bearer token", "WWW-Authenticate: Bearer realm=\"kvd\"\r\n");
    }
  }
  if (t.path == "/size") {
    if (req.method == Method::kOptions) return Reply(ctx, req, Handler::kSize, 200, "", kSizeAllow);
    if (!read && req.method != Method::kPost) return NotAllowed(ctx, req, Handler::kSize, kSizeAllow);
    fmt::format_int n(store_->Size(ctx.now_ms));
    return Reply(ctx, req, Handler::kSize, 200, {n.data(), n.size()});
  }
  if (t.path == "/healthz") {
    if (req.method == Method::kOptions) return Reply(ctx, req, Handler::kHealthz, 200, "", kReadOnlyAllow);
    if (!read) return NotAllowed(ctx, req, Handler::kHealthz, kReadOnlyAllow);
    return Reply(ctx, req, Handler::kHealthz, 200, "ok");
  }
  if (t.path == "/metrics") {
    if (req.method == Method::kOptions) return Reply(ctx, req, Handler::kMetrics, 200, "", kReadOnlyAllow);
    if (!read) return NotAllowed(ctx, req, Handler::kMetrics, kReadOnlyAllow);
    store::ShardStats s = store_->Stats(ctx.now_ms);
    metrics::StoreFigures figures;
    figures.keys = s.keys;
    figures.bytes_limit = store_->memory_limit();
    figures.bytes_reserved = s.bytes_held;
    figures.bytes_used = s.bytes_used;
    figures.segments_small = s.segments_small;
    figures.segments_main = s.segments_main;
    figures.segments_spare = s.segments_spare;
    figures.expired = s.expired;
    figures.evicted_small = s.evicted_small;
    figures.evicted_main = s.evicted_main;
    figures.promoted = s.promoted;
    figures.reinserted = s.reinserted;
    figures.bytes_copied = s.bytes_copied;
    figures.ghost_hits = s.ghost_hits;
    figures.writes_refused = s.rejected;
    std::string text;
    metrics::Render(reactors_->data(), reactors_->size(), figures, &text);
    http::Head head;
    head.close = ctx.close;
    head.content_type = "text/plain; version=0.0.4; charset=utf-8";
    http::AppendResponse(ctx.out, *ctx.date, head, text, req.method == Method::kHead);
    return {200, Handler::kMetrics};
  }
  // The whole server.
  if (t.path == "*" && req.method == Method::kOptions) return Reply(ctx, req, Handler::kOther, 200, "", kKeyAllow);
  if (t.path.empty() || t.path[0] != '/') {
    return Reply(ctx, req, Handler::kOther, 400, "request target must be an absolute path");
  }
  return HandleKey(req, t.path, t.query, ctx);
}

store::HashedKey Router::Prefetch(const http::Request& req) const {
  // Only the usual key, its path used as is; anything else is simply not prefetched.
  http::Target t = http::SplitTarget(req.target);
  if (t.path.size() <= 1 || t.path.find('%') != std::string_view::npos) return {};
  store::HashedKey key(t.path);
  store_->Prefetch(key);
  return key;
}

Router::Outcome Router::HandleKey(const http::Request& req, std::string_view path,
                                  std::string_view query, Context& ctx) const {
  // The key is the decoded path; without a '%' that is the path itself, used in place, and it may
  // have come hashed already, from Prefetch.
  store::HashedKey key;
  if (ctx.key != nullptr && ctx.key->key.data() == path.data() && ctx.key->key.size() == path.size()) {
    key = *ctx.key;
  } else if (path.find('%') == std::string_view::npos) {
    key = store::HashedKey(path);
  } else {
    if (!http::PercentDecode(path, ctx.scratch)) {
      return Reply(ctx, req, Handler::kKey, 400, "invalid percent-encoding in key");
    }
    // Keys are binary, but NUL, CR and LF cut or split a line or a C string wherever a key is
    // shown or passed on (a log, a proxy's cache key), escaped or not.
    if (ctx.scratch->find_first_of(std::string_view("\0\r\n", 3)) != std::string::npos) {
      return Reply(ctx, req, Handler::kKey, 400, "key contains NUL, CR or LF");
    }
    key = store::HashedKey(*ctx.scratch);
  }
  if (key.key.size() <= 1) return Reply(ctx, req, Handler::kKey, 400, "empty key");
  if (key.key.size() - 1 > config_->max_key_bytes) return Reply(ctx, req, Handler::kKey, 414, "key too long");

  switch (req.method) {
    case Method::kGet:
    case Method::kHead: {
      bool head_only = req.method == Method::kHead;
      bool hit = store_->Get(key, ctx.now_ms, [&](std::string_view value) {
        // Copied under the shard lock straight into the output: no intermediate buffer.
        http::Head head;
        head.close = ctx.close;
        http::AppendResponse(ctx.out, *ctx.date, head, value, head_only);
      });
      if (hit) {
        ctx.metrics->hits.Add();
        return {200, Handler::kKey};
      }
      ctx.metrics->misses.Add();
      return Reply(ctx, req, Handler::kKey, config_->miss_status, "");
    }
    case Method::kPost:
    case Method::kPut: {
      http::WriteOptions opts;
      const char* error = "";
      if (!http::ParseWriteOptions(query, store::kMaxTtlMs, &opts, &error)) {
        return Reply(ctx, req, Handler::kKey, 400, error);
      }
      store::SetMode mode = opts.nx ? store::SetMode::kIfAbsent
                            : opts.xx ? store::SetMode::kIfPresent
                                      : store::SetMode::kAlways;
      uint64_t ttl = opts.ttl_ms ? opts.ttl_ms : config_->ttl_ms;
      // RFC 9110 9.3.4: a PUT that creates the key answers 201. The store tells that a write
      // created the key only when asked to create and nothing else, so a PUT that may create tries
      // that first. (A POST keeps the seed's 200.)
      bool created = false;
      store::SetResult result;
      if (req.method == Method::kPut && mode != store::SetMode::kIfPresent) {
        result = store_->Set(key, req.body, ttl, store::SetMode::kIfAbsent, ctx.now_ms);
        created = result == store::SetResult::kStored;
        if (result == store::SetResult::kConditionFailed && mode == store::SetMode::kAlways) {
          result = store_->Set(key, req.body, ttl, mode, ctx.now_ms);
        }
      } else {
        result = store_->Set(key, req.body, ttl, mode, ctx.now_ms);
      }
      switch (result) {
        case store::SetResult::kStored:  // the seed echoes the value
          return Reply(ctx, req, Handler::kKey, created ? 201 : 200, req.body);
        case store::SetResult::kConditionFailed:
          return Reply(ctx, req, Handler::kKey, 412, opts.nx ? "key exists" : "key does not exist");
        case store::SetResult::kNoMemory:
          return Reply(ctx, req, Handler::kKey, 507, "value does not fit in --max-memory");
        case store::SetResult::kPreconditionFailed:
        case store::SetResult::kNotInteger:
        case store::SetResult::kOverflow:
          break;  // not asked for by a plain write
      }
      break;
    }
    case Method::kDelete:
      if (store_->Delete(key, ctx.now_ms)) return Reply(ctx, req, Handler::kKey, 204, "");
      return Reply(ctx, req, Handler::kKey, 404, "");
    case Method::kOptions:
      return Reply(ctx, req, Handler::kKey, 200, "", kKeyAllow);
    case Method::kOther:
      break;
  }
  return NotAllowed(ctx, req, Handler::kKey, kKeyAllow);
}

}  // namespace kvd

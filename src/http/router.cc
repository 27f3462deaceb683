#include "http/router.h"

#include "fmt/format.h"
#include "absl/strings/match.h"
#include "http/uri.h"
#include "http/validators.h"

namespace kvd::http {


Router::Router(const Config* config, store::Store* store,
               const std::vector<const metrics::ReactorMetrics*>* reactors,
               const std::vector<const RequestStats*>* http_stats, uint32_t etag_run,
               std::function<void(std::string*)> more_metrics)
    : config_(config), store_(store), reactors_(reactors), http_stats_(http_stats), etags_(etag_run),
      more_metrics_(std::move(more_metrics)) {}

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
  http::Target t;
  if (ctx.key != nullptr && !ctx.key->key.empty()) {
    // Prefetch's key ends the path, which a '?' and the query may follow.
    const char* path_end = ctx.key->key.data() + ctx.key->key.size();
    const size_t rest = size_t(req.target.data() + req.target.size() - path_end);
    t.path = {req.target.data(), size_t(path_end - req.target.data())};
    if (rest > 0) t.query = {path_end + 1, rest - 1};
  } else {
    t = http::SplitTarget(req.target);
  }
  const bool read = req.method == Method::kGet || req.method == Method::kHead;
  if (!config_->auth_token.empty()) {
    bool open_path = t.path == "/metrics" || t.path == "/healthz";
    if ((!open_path || config_->auth_metrics) && !(req.token_ok ? *req.token_ok : Authorized(req))) {
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
    const store::Store::LockStats locks = store_->Locks();
    figures.lock_waits = locks.waits;
    figures.lock_wait_ns = locks.wait_ns;
    std::string text;
    if (http_stats_ != nullptr) AppendMetrics(*http_stats_, &text);
    metrics::Render(reactors_->data(), reactors_->size(), figures, &text);
    if (more_metrics_) more_metrics_(&text);
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
  if (req.target.empty() || req.target[0] != '/') return {};
  const size_t path = http::PlainPathLength(req.target);
  if (path <= 1 || path == std::string_view::npos) return {};
  store::HashedKey key(req.target.substr(1, path - 1));
  store_->Prefetch(key);
  return key;
}

namespace {

const char* WriteError(store::SetResult r, const http::WriteOptions& opts) {
  switch (r) {
    case store::SetResult::kConditionFailed: return opts.nx ? "key exists" : "key does not exist";
    case store::SetResult::kPreconditionFailed: return "precondition failed: the value's ETag does not match";
    case store::SetResult::kNoMemory: return "value does not fit in --max-memory";
    case store::SetResult::kNotInteger: return "value is not a decimal integer";
    case store::SetResult::kOverflow: return "increment would overflow a signed 64-bit integer";
    case store::SetResult::kStored: break;
  }
  return "";
}

int WriteStatus(store::SetResult r) {
  switch (r) {
    case store::SetResult::kConditionFailed:
    case store::SetResult::kPreconditionFailed: return 412;
    case store::SetResult::kNoMemory: return 507;
    case store::SetResult::kNotInteger:
    case store::SetResult::kOverflow: return 409;
    case store::SetResult::kStored: break;
  }
  return 200;
}

}  // namespace

Router::Outcome Router::HandleKey(const http::Request& req, std::string_view path,
                                  std::string_view query, Context& ctx) const {
  // The key is the decoded path without its '/' (so the RESP key k is the path /k); without a
  // '%' that is the path itself, used in place, and it may have come hashed already, from
  // Prefetch.
  store::HashedKey key;
  const std::string_view in_place = path.substr(1);
  if (ctx.key != nullptr && !ctx.key->key.empty()) {  // Handle took the path from it
    key = *ctx.key;
  } else if (path.find('%') == std::string_view::npos) {
    key = store::HashedKey(in_place);
  } else {
    if (!http::PercentDecode(in_place, ctx.scratch)) {
      return Reply(ctx, req, Handler::kKey, 400, "invalid percent-encoding in key");
    }
    // Keys are binary, but NUL, CR and LF cut or split a line or a C string wherever a key is
    // shown or passed on (a log, a proxy's cache key), escaped or not.
    if (ctx.scratch->find_first_of(std::string_view("\0\r\n", 3)) != std::string::npos) {
      return Reply(ctx, req, Handler::kKey, 400, "key contains NUL, CR or LF");
    }
    key = store::HashedKey(*ctx.scratch);
  }
  if (key.key.empty()) return Reply(ctx, req, Handler::kKey, 400, "empty key");
  if (key.key.size() > config_->max_key_bytes) return Reply(ctx, req, Handler::kKey, 414, "key too long");
  if (req.method == Method::kOptions) return Reply(ctx, req, Handler::kKey, 200, "", kKeyAllow);
  if (req.method == Method::kOther) return NotAllowed(ctx, req, Handler::kKey, kKeyAllow);

  // Conditional requests (RFC 9110 13.2.2): If-Match, then If-None-Match; kvd has no
  // modification dates, so If-Unmodified-Since and If-Modified-Since are ignored, as 13.1.3 and
  // 13.1.4 ask. A field that cannot be evaluated is refused rather than ignored: ignoring an
  // If-Match could lose an update.
  http::TagCondition if_match, if_none_match;
  if (!if_match.Parse(req.if_match)) return Reply(ctx, req, Handler::kKey, 400, "malformed If-Match");
  if (!if_none_match.Parse(req.if_none_match)) {
    return Reply(ctx, req, Handler::kKey, 400, "malformed If-None-Match");
  }
  const bool conditional = if_match.present() || if_none_match.present();
  const uint32_t run = etags_.run();
  // For a write or delete: true when the conditions hold for the current value.
  auto holds = [&if_match, &if_none_match, run](bool exists, uint32_t version) {
    return (!if_match.present() || if_match.Matches(exists, run, version, false)) &&
           !if_none_match.Matches(exists, run, version, true);
  };

  switch (req.method) {
    case Method::kGet:
    case Method::kHead: {
      const bool head_only = req.method == Method::kHead;
      int status = 200;
      bool hit = store_->Get(key, ctx.now_ms, [&](std::string_view value, uint32_t version) {
        if (conditional) {
          if (if_match.present() && !if_match.Matches(true, run, version, false)) {
            status = 412;
            return;
          }
          if (if_none_match.Matches(true, run, version, true)) {
            status = 304;
            value = {};
          }
        }
        // Copied under the shard lock straight into the output: no intermediate buffer.
        char tag[http::kEtagBytes];
        etags_.Format(version, tag);
        http::Head head;
        head.status = status;
        head.close = ctx.close;
        head.etag = {tag, sizeof tag};
        http::AppendResponse(ctx.out, *ctx.date, head, value, head_only || status == 304);
      });
      if (hit) {
        ctx.metrics->hits.Add();
        if (status == 412) return Reply(ctx, req, Handler::kKey, 412, WriteError(store::SetResult::kPreconditionFailed, {}));
        return {status, Handler::kKey};
      }
      ctx.metrics->misses.Add();
      if (if_match.present()) return Reply(ctx, req, Handler::kKey, 412, "precondition failed: no value to match");
      return Reply(ctx, req, Handler::kKey, config_->miss_status, "");
    }
    case Method::kPost:
    case Method::kPut: {
      http::WriteOptions opts;
      const char* error = "";
      if (!http::ParseWriteOptions(query, store::kMaxTtlMs, &opts, &error)) {
        return Reply(ctx, req, Handler::kKey, 400, error);
      }
      if (opts.incr && !req.body.empty()) return Reply(ctx, req, Handler::kKey, 400, "incr takes no body");
      store::WriteOptions w;
      w.ttl_ms = opts.ttl_ms ? opts.ttl_ms : config_->ttl_ms;
      w.mode = opts.nx ? store::SetMode::kIfAbsent : opts.xx ? store::SetMode::kIfPresent : store::SetMode::kAlways;
      store::Precondition precondition = holds;
      if (conditional) w.precondition = &precondition;
      int64_t sum = 0;
      store::WriteResult r = opts.incr ? store_->Incr(key, opts.delta, w, ctx.now_ms, &sum)
                                       : store_->Write(key, req.body, w, ctx.now_ms);
      if (r.status != store::SetResult::kStored) {
        return Reply(ctx, req, Handler::kKey, WriteStatus(r.status), WriteError(r.status, opts));
      }
      // The stored value's tag, so that a client can write conditionally again without a read.
      char tag[http::kEtagBytes];
      etags_.Format(r.version, tag);
      http::Head head;
      // RFC 9110 9.3.4: a PUT that creates the key answers 201 (a POST keeps the seed's 200).
      head.status = req.method == Method::kPut && r.created ? 201 : 200;
      head.close = ctx.close;
      head.etag = {tag, sizeof tag};
      fmt::format_int n(sum);
      // The seed echoes the value; an increment answers the sum.
      http::AppendResponse(ctx.out, *ctx.date, head,
                           opts.incr ? std::string_view(n.data(), n.size()) : req.body,
                           req.method == Method::kHead);
      return {head.status, Handler::kKey};
    }
    case Method::kDelete: {
      store::DeleteResult d = conditional ? store_->DeleteIf(key, store::Precondition(holds), ctx.now_ms)
                              : store_->Delete(key, ctx.now_ms) ? store::DeleteResult::kDeleted
                                                                : store::DeleteResult::kAbsent;
      switch (d) {
        case store::DeleteResult::kDeleted: return Reply(ctx, req, Handler::kKey, 204, "");
        case store::DeleteResult::kAbsent: return Reply(ctx, req, Handler::kKey, 404, "");
        case store::DeleteResult::kPreconditionFailed:
          return Reply(ctx, req, Handler::kKey, 412, WriteError(store::SetResult::kPreconditionFailed, {}));
      }
      break;
    }
    case Method::kOptions:
    case Method::kOther:
    case Method::kCount:
      break;
  }
  return NotAllowed(ctx, req, Handler::kKey, kKeyAllow);
}

}  // namespace kvd::http

// Router: turns one parsed request into one response appended to the connection's output —
// key operations against the store, and the reserved paths /size, /metrics and /healthz.
//
// Thread safety: a Router is shared by all reactors and holds no mutable state of its own; the
// per-call Context carries everything that belongs to the calling reactor.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "config/config.h"
#include "http/request.h"
#include "http/response.h"
#include "http/stats.h"
#include "http/validators.h"
#include "metrics/metrics.h"
#include "store/store.h"
#include "util/buffer.h"

namespace kvd::http {

class Router {
 public:
  // `reactors` lists every reactor's metrics, for /metrics; it must outlive the router.
  // `etag_run` goes into every ETag: pick it at random at start, so that tags from an earlier run
  // never match (http/validators.h).
  // `http_stats` lists every reactor's HTTP figures (http::RequestStats), for /metrics, and may
  // be null (no HTTP figures). `more_metrics` appends other modules' families to /metrics (RESP's
  // commands), if set.
  Router(const Config* config, store::Store* store,
         const std::vector<const metrics::ReactorMetrics*>* reactors,
         const std::vector<const RequestStats*>* http_stats = nullptr, uint32_t etag_run = 0,
         std::function<void(std::string*)> more_metrics = {});

  // What the reactor needs to account for a request.
  struct Outcome {
    int status;
    Handler handler;
  };
  struct Context {
    uint64_t now_ms;
    Buffer* out;
    const http::DateCache* date;
    metrics::ReactorMetrics* metrics;
    std::string* scratch;  // reused for a key that has %-escapes to decode
    bool close;            // the response is the last on its connection
    // Prefetch's answer for this same request (its target unmoved since), or null. A key it
    // named is not hashed again, and being a view of the target's path after its '/', it also
    // gives the path and query: the target is not split again.
    const store::HashedKey* key = nullptr;
  };

  Outcome Handle(const http::Request& req, Context& ctx) const;
  // A hint that req will be handled soon. For the usual key request (an origin-form path without
  // escapes) returns its store key, hashed, with the store loading the table memory it will
  // probe; else the empty key. The key is a view of req.target: the path after its '/'. Handle
  // takes it back through Context::key.
  store::HashedKey Prefetch(const http::Request& req) const;
  // Once a batch's keys are all known (each from Prefetch; empty ones are skipped): loads the
  // rest of what their lookups will read (Store::PrefetchBatch).
  void PrefetchBatch(const store::HashedKey* keys, size_t n) const { store_->PrefetchBatch(keys, n); }

  // Whether req's Authorization header carries --auth-token (compared in constant time). The
  // connection asks as a request arrives when it will not keep the header's value (Request::token_ok).
  bool Authorized(const http::Request& req) const;

 private:
  Outcome HandleKey(const http::Request& req, std::string_view path, std::string_view query,
                    Context& ctx) const;
  Outcome Reply(Context& ctx, const http::Request& req, Handler h, int status,
                std::string_view body, std::string_view extra_headers = {}) const;
  // A method the path does not take: 405 or 501, with the path's Allow line.
  Outcome NotAllowed(Context& ctx, const http::Request& req, Handler h,
                     std::string_view allow) const;

  const Config* config_;
  store::Store* store_;
  const std::vector<const metrics::ReactorMetrics*>* reactors_;
  const std::vector<const RequestStats*>* http_stats_;
  http::EtagFormatter etags_;
  std::function<void(std::string*)> more_metrics_;
};

}  // namespace kvd::http

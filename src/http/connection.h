// HTTP connections: one client socket's requests through llhttp (RequestParser), the router and
// back, on a net::StreamConnection (which does the socket, flow control and closing); and the
// factory that makes them for one reactor, with what they share there (the cached Date, scratch).
//
// Requests are answered as a batch: each is deferred as the parser completes it (up to 16), its
// key hashed and its table memory prefetched, and all are answered at the end of the read, their
// entries prefetched first (docs/design.md: at a million keys a lookup is a few cache misses, which
// a batch overlaps). A request whose bytes the parser owns (it spanned reads), one that closes the
// connection, or one with a token or conditions to check is answered in turn instead.
//
// Thread safety: a factory and its connections belong to one reactor thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.h"
#include "http/parser.h"
#include "http/request.h"
#include "http/response.h"
#include "http/router.h"
#include "http/stats.h"
#include "metrics/metrics.h"
#include "net/stream.h"
#include "store/key.h"

namespace kvd::http {

class ConnectionFactory final : public net::ConnectionFactory {
 public:
  // The router must outlive the factory. Registers a task with the reactor that refreshes the
  // cached Date header at each wake-up.
  ConnectionFactory(const Config* config, const Router* router, net::Reactor* reactor);

  net::Connection* Accept(int fd, net::Reactor* reactor) override;
  metrics::Protocol protocol() const override { return metrics::Protocol::kHttp; }

  const Config& config() const { return *config_; }
  const Router& router() const { return *router_; }
  const Limits* limits() const { return &limits_; }
  const net::StreamConnection::Limits* stream_limits() const { return &stream_limits_; }
  const DateCache& date() const { return date_; }
  std::string* key_scratch() { return &key_scratch_; }
  // This reactor's request figures, for /metrics.
  RequestStats& stats() { return stats_; }

 private:
  const Config* config_;
  const Router* router_;
  Limits limits_;
  net::StreamConnection::Limits stream_limits_;
  DateCache date_;
  std::string key_scratch_;
  RequestStats stats_;
};

class Connection final : public net::StreamConnection, public RequestSink {
 public:
  Connection(int fd, net::Reactor* reactor, ConnectionFactory* factory);
  ~Connection() override;

 private:
  FeedResult Feed(const char* data, size_t n) override;
  bool Resume() override;
  void OnFlushed() override;
  bool RequestStalled(uint64_t now_ms) const override;
  size_t HeldBytes() const override { return parser_.held_bytes() + kept_bytes_.capacity(); }

  bool OnRequest(Request& req) override;
  void OnContinue() override;
  // Routes one request (key: from Router::Prefetch, or null); returns MayAnswer().
  bool Answer(const Request& req, const store::HashedKey* key = nullptr);
  // Answers the deferred requests in order, while MayAnswer() (or all of them); the rest stay
  // deferred, their bytes copied (KeepDeferred). Returns whether none is left and MayAnswer().
  bool RunDeferred(bool all);
  void KeepDeferred();

  ConnectionFactory* http_;
  RequestParser parser_;
  uint64_t request_start_ms_ = 0;  // when the request now being received began

  // Requests answered since the last completed flush, by (handler, method): their latency is
  // observed once the write completes. batch_used_ marks the non-zero cells of batch_, so a
  // flush visits only those (a batch has one or two kinds of request, of 35).
  static constexpr size_t kMethods = size_t(Method::kCount);
  static constexpr size_t kBatchCells = size_t(Handler::kCount) * kMethods;
  static_assert(kBatchCells <= 64, "batch_used_ has a bit per cell");
  // Requests parsed but not answered yet, in order. Their views point into the buffer being
  // parsed, or into kept_bytes_ once kept_ (when output backpressure holds them past that
  // buffer's life).
  static constexpr size_t kMaxDeferred = 16;
  Request deferred_[kMaxDeferred];
  store::HashedKey deferred_key_[kMaxDeferred];  // Router::Prefetch's key (empty: none)
  size_t n_deferred_ = 0;
  bool kept_ = false;
  std::string kept_bytes_;
  uint32_t unflushed_ = 0;
  uint64_t batch_used_ = 0;
  uint16_t batch_[kBatchCells] = {};  // [handler * kMethods + method]
};

}  // namespace kvd::http

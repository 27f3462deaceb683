#include "http/connection.h"

#include <algorithm>
#include <bit>
#include <ctime>

#include "net/reactor.h"
#include "util/clock.h"

namespace kvd::http {

ConnectionFactory::ConnectionFactory(const Config* config, const Router* router, net::Reactor* reactor)
    : config_(config), router_(router) {
  limits_.max_header_bytes = config->max_header_bytes;
  limits_.max_body_bytes = config->max_value_bytes;
  stream_limits_.max_output_bytes = config->max_output_bytes;
  stream_limits_.idle_timeout = config->idle_timeout;
  if (reactor != nullptr) {
    reactor->AddTask(0, [this](uint64_t) {
      timespec rt;
      clock_gettime(CLOCK_REALTIME_COARSE, &rt);
      date_.Update(rt.tv_sec);
      return true;
    });
  }
}

net::Connection* ConnectionFactory::Accept(int fd, net::Reactor* reactor) {
  return new Connection(fd, reactor, this);
}

Connection::Connection(int fd, net::Reactor* reactor, ConnectionFactory* factory)
    : StreamConnection(fd, reactor, factory->stream_limits(), metrics::Protocol::kHttp),
      http_(factory),
      parser_(factory->limits(), this) {}

Connection::~Connection() {
  if (unflushed_) http_->stats().in_flight.Add(-int64_t(unflushed_));
}

bool Connection::RequestStalled(uint64_t now_ms) const {
  return parser_.in_request() && !parser_.headers_complete() &&
         now_ms - request_start_ms_ >= uint64_t(absl::ToInt64Milliseconds(http_->config().header_timeout));
}

Connection::FeedResult Connection::Feed(const char* data, size_t n) {
  const bool was_in_request = parser_.in_request();
  RequestParser::Result r = parser_.Feed(data, n);
  if (!was_in_request && parser_.in_request()) request_start_ms_ = reactor().now_ms();
  if (r.status == RequestParser::Status::kError) {
    // The requests before the bad one get their answers first: all of them, since the connection
    // closes after this (at most kMaxDeferred responses past the output limit).
    RunDeferred(true);
    Head head;
    head.status = parser_.error_status();
    head.close = true;
    AppendResponse(&out(), http_->date(), head, parser_.error_message());
    http_->stats().Count(Method::kOther, head.status);
    reactor().m().requests.Add();
    return {Parsed::kFailed, r.consumed};
  }
  if (r.status == RequestParser::Status::kPaused) {
    RunDeferred(false);
    return {Parsed::kPaused, r.consumed};
  }
  // Requests are held, or the output is past its limit: read no more until it drains (what a
  // pause after the last request of the buffer would have done).
  if (!RunDeferred(false)) return {Parsed::kPaused, n};
  return {Parsed::kAll, n};
}

bool Connection::Resume() {
  // Output drained: the requests that were waiting for room go first.
  bool go_on = RunDeferred(false);
  if (go_on && !discarding()) parser_.Resume();
  return go_on;
}

bool Connection::OnRequest(Request& req) {
  const Router& router = http_->router();
  // The usual request is deferred to the end of the buffer, its store memory prefetched now. Not
  // one whose bytes the parser keeps (they change with the next request), one that closes the
  // connection, or one with conditions (those values are the parser's too).
  if (req.keep_alive && parser_.borrowed() && req.if_match.empty() && req.if_none_match.empty() &&
      n_deferred_ < kMaxDeferred) {
    // Field by field: copying the Authorization value would cost more than the rest, so a token
    // is checked now and only the verdict kept.
    Request& d = deferred_[n_deferred_];
    d.method = req.method;
    d.method_name = req.method_name;
    d.target = req.target;
    d.body = req.body;
    d.reject_status = req.reject_status;
    d.reject_reason = req.reject_reason;
    d.keep_alive = true;
    // The slot may hold an earlier request kept whole (output backpressure): none of its fields
    // may carry over.
    d.authorization.clear();
    d.if_match.clear();
    d.if_none_match.clear();
    d.token_ok = http_->config().auth_token.empty() ? std::nullopt : std::optional<bool>(router.Authorized(req));
    deferred_key_[n_deferred_++] = router.Prefetch(req);
    return n_deferred_ < kMaxDeferred || RunDeferred(false);
  }
  if (!RunDeferred(false)) {  // earlier requests wait for the output to drain: so does this one
    if (n_deferred_ == kMaxDeferred) RunDeferred(true);  // not reached: a full batch is answered
    deferred_[n_deferred_++] = req;
    KeepDeferred();
    return false;
  }
  return Answer(req);
}

bool Connection::RunDeferred(bool all) {
  // The batch's store memory, before the first answer needs any (the table's may have been
  // requested as each request was parsed: see Store::Prefetch).
  if (n_deferred_ > 1 && !kept_) http_->router().PrefetchBatch(deferred_key_, n_deferred_);
  size_t i = 0;
  while (i < n_deferred_ && (all || MayAnswer())) {
    Answer(deferred_[i], &deferred_key_[i]);
    ++i;
  }
  bool done = i == n_deferred_;
  if (done) {
    n_deferred_ = 0;
    kept_ = false;
  } else if (i > 0 || !kept_) {
    std::move(deferred_ + i, deferred_ + n_deferred_, deferred_);
    std::move(deferred_key_ + i, deferred_key_ + n_deferred_, deferred_key_);
    n_deferred_ -= i;
    KeepDeferred();
  }
  return done && MayAnswer();
}

void Connection::KeepDeferred() {
  // Rare (output backpressure): the requests outlive the buffer their views point into, so copy
  // their bytes into a new string (the old views, possibly into kept_bytes_, stay valid while
  // copying), then point the views at it — after the swap, which moves short (inline) strings.
  std::string kept;
  for (size_t i = 0; i < n_deferred_; ++i) {
    kept.append(deferred_[i].target);
    kept.append(deferred_[i].body);
  }
  kept_bytes_.swap(kept);
  const char* at = kept_bytes_.data();
  for (size_t i = 0; i < n_deferred_; ++i) {
    deferred_key_[i] = {};  // it viewed the old bytes; Handle derives the key again
    Request& q = deferred_[i];
    q.target = {at, q.target.size()};
    at += q.target.size();
    q.body = {at, q.body.size()};
    at += q.body.size();
  }
  kept_ = true;
}

bool Connection::Answer(const Request& req, const store::HashedKey* key) {
  net::Reactor& r = reactor();
  Router::Context ctx{r.now_ms(), &out(), &http_->date(), &r.m(), http_->key_scratch(), !req.keep_alive, key};
  Router::Outcome o = http_->router().Handle(req, ctx);
  RequestStats& stats = http_->stats();
  stats.Count(req.method, o.status);
  r.m().requests.Add();
  size_t cell = size_t(o.handler) * kMethods + size_t(req.method);
  ++batch_[cell];
  batch_used_ |= uint64_t(1) << cell;
  ++unflushed_;
  stats.in_flight.Add(1);
  if (!req.keep_alive) CloseAfterResponse();
  return MayAnswer();
}

void Connection::OnContinue() {
  // The interim response follows the answers to every earlier request.
  RunDeferred(true);
  out().Append(k100Continue);
}

void Connection::OnFlushed() {
  if (unflushed_ == 0) return;
  // Every request of the batch waited for the same write: from the loop's wake-up to now.
  uint64_t nanos = MonotonicNanos() - reactor().now_ns();
  RequestStats& stats = http_->stats();
  for (uint64_t used = batch_used_; used != 0; used &= used - 1) {
    size_t cell = size_t(std::countr_zero(used));
    stats.duration[cell / kMethods][cell % kMethods].Observe(nanos, batch_[cell]);
    batch_[cell] = 0;
  }
  batch_used_ = 0;
  stats.in_flight.Add(-int64_t(unflushed_));
  unflushed_ = 0;
}

}  // namespace kvd::http

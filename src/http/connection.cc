#include "http/connection.h"

#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>

#include "net/reactor.h"
#include "util/clock.h"

namespace kvd::net {
namespace {

constexpr size_t kKeepBufferBytes = 64 << 10;  // larger idle buffers are given back
constexpr uint64_t kLingerMs = 2000;

metrics::Method MetricsMethod(http::Method m) {
  switch (m) {
    case http::Method::kGet: return metrics::Method::kGet;
    case http::Method::kHead: return metrics::Method::kHead;
    case http::Method::kPost: return metrics::Method::kPost;
    case http::Method::kPut: return metrics::Method::kPut;
    case http::Method::kDelete: return metrics::Method::kDelete;
    case http::Method::kOptions: return metrics::Method::kOptions;
    default: return metrics::Method::kOther;
  }
}

}  // namespace

Connection::Connection(int fd, Reactor* reactor, uint64_t now_ms)
    : fd_(fd), reactor_(reactor), parser_(reactor->limits(), this), last_active_ms_(now_ms) {}

Connection::~Connection() {
  if (unflushed_) reactor_->m().in_flight.Add(-int64_t(unflushed_));
  reactor_->m().connection_buffer_bytes.Add(-int64_t(counted_buffer_bytes_));
  ::close(fd_);
}

bool Connection::TimedOut(uint64_t now_ms) const {
  if (lingering_) return now_ms >= linger_until_ms_;
  const Config& c = reactor_->config();
  if (parser_.in_request() && !parser_.headers_complete() &&
      now_ms - request_start_ms_ >= uint64_t(absl::ToInt64Milliseconds(c.header_timeout))) {
    return true;
  }
  return now_ms - last_active_ms_ >= uint64_t(absl::ToInt64Milliseconds(c.idle_timeout));
}

bool Connection::OnReadable() {
  if (!ReadOnce()) return false;
  return shutting_down_ ? ShutdownStep() : true;
}

bool Connection::ReadOnce() {
  char* buf = reactor_->read_buffer();
  ssize_t n = ::read(fd_, buf, reactor_->read_buffer_size());
  reactor_->m().syscalls_read.Add();
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  if (n == 0) {
    // The client is done sending (or gone): answer what it sent, then close.
    if (lingering_ || out_.empty()) return false;
    stop_reading_ = true;
    close_after_flush_ = true;
    SetInterest();
    return true;
  }
  reactor_->m().bytes_read.Add(uint64_t(n));
  if (lingering_) return true;  // discarding what follows the last response
  last_active_ms_ = reactor_->now_ms();
  bool was_in_request = parser_.in_request();
  Process(buf, size_t(n), false);
  if (!was_in_request && parser_.in_request()) request_start_ms_ = reactor_->now_ms();
  return Flush();
}

bool Connection::OnWritable() {
  if (!Flush()) return false;
  return shutting_down_ ? ShutdownStep() : true;
}

bool Connection::BeginShutdown() {
  // Requests already in the socket buffer have been received and get answers (ShutdownStep):
  // read until it is empty, not just once, or a burst larger than the read buffer would be
  // answered in part and the close would reset the connection over the unread rest.
  shutting_down_ = true;
  if (stop_reading_ || lingering_) {
    close_after_flush_ = true;
    if (out_.empty() && !paused_) return false;
    SetInterest();
    return true;
  }
  return ShutdownStep();
}

bool Connection::ShutdownStep() {
  // A few buffers per call, so a client that keeps sending cannot hold the reactor; while the
  // socket stays readable the reactor calls again, and --shutdown-timeout bounds the whole.
  for (int i = 0; i < 16; ++i) {
    if (paused_ || stop_reading_ || lingering_) return true;  // OnWritable resumes a pause
    int avail = 0;
    if (::ioctl(fd_, FIONREAD, &avail) != 0 || avail <= 0) {
      // Everything received is read: nothing more, and close once the answers are out.
      stop_reading_ = true;
      close_after_flush_ = true;
      if (out_.empty()) return false;
      SetInterest();
      return true;
    }
    if (!ReadOnce()) return false;
  }
  return true;
}

void Connection::Process(const char* data, size_t n, bool from_pending) {
  http::RequestParser::Result r = parser_.Feed(data, n);
  if (r.status == http::RequestParser::Status::kError) {
    // The requests before the bad one get their answers first: all of them, since the connection
    // closes after this (at most kMaxDeferred responses past the output limit).
    RunDeferred(true);
  } else if (!RunDeferred(false) && r.status == http::RequestParser::Status::kOk) {
    // Requests are held, or the output is past its limit: read no more until it drains (what
    // a pause after the last request of the buffer would have done).
    r = {http::RequestParser::Status::kPaused, n};
  }
  switch (r.status) {
    case http::RequestParser::Status::kOk:
      if (from_pending) pending_in_.Clear();
      break;
    case http::RequestParser::Status::kPaused:
      if (discard_input_) {
        pending_in_.Clear();  // the rest follows a `Connection: close`; it is not answered
        break;
      }
      paused_ = true;
      if (from_pending) {
        pending_in_.Consume(r.consumed);
      } else {
        pending_in_.Append(data + r.consumed, n - r.consumed);
      }
      break;
    case http::RequestParser::Status::kError: {
      pending_in_.Clear();
      http::Head head;
      head.status = parser_.error_status();
      head.close = true;
      http::AppendResponse(&out_, reactor_->date(), head, parser_.error_message());
      reactor_->m().requests[size_t(metrics::Method::kOther)][size_t(metrics::CodeFromStatus(head.status))].Add();
      reactor_->m().connections_closed_bad_input.Add();
      discard_input_ = true;
      stop_reading_ = true;
      close_after_flush_ = true;
      paused_ = false;
      break;
    }
  }
}

bool Connection::OnRequest(http::Request& req) {
  Reactor& r = *reactor_;
  // The usual request is deferred to the end of the buffer, its store memory prefetched now. Not
  // one whose bytes the parser keeps (they change with the next request), one that closes the
  // connection, or one with a token to check or conditions (those values are the parser's too).
  if (req.keep_alive && parser_.borrowed() && r.config().auth_token.empty() && req.if_match.empty() &&
      req.if_none_match.empty() && n_deferred_ < kMaxDeferred) {
    // Field by field: the Authorization value is not needed (no token is checked), and copying
    // the string would cost more than the rest.
    http::Request& d = deferred_[n_deferred_];
    d.method = req.method;
    d.method_name = req.method_name;
    d.target = req.target;
    d.body = req.body;
    d.reject_status = req.reject_status;
    d.reject_reason = req.reject_reason;
    d.keep_alive = true;
    d.authorization.clear();
    deferred_key_[n_deferred_++] = r.router().Prefetch(req);
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

bool Connection::MayAnswer() const {
  return !discard_input_ && out_.size() < reactor_->config().max_output_bytes;
}

bool Connection::RunDeferred(bool all) {
  // The table memory was prefetched as each request was parsed; by now it has arrived, so the
  // entries can be found and prefetched too, all before the first answer needs one.
  if (n_deferred_ > 1 && !kept_) {
    for (size_t k = 0; k < n_deferred_; ++k) {
      if (!deferred_key_[k].key.empty()) reactor_->router().PrefetchEntry(deferred_key_[k]);
    }
  }
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
    http::Request& q = deferred_[i];
    q.target = {at, q.target.size()};
    at += q.target.size();
    q.body = {at, q.body.size()};
    at += q.body.size();
  }
  kept_ = true;
}

bool Connection::Answer(const http::Request& req, const store::HashedKey* key) {
  Reactor& r = *reactor_;
  http::Router::Context ctx{r.now_ms(), &out_, &r.date(), &r.m(), r.key_scratch(), !req.keep_alive, key};
  http::Router::Outcome o = r.router().Handle(req, ctx);
  metrics::Method m = MetricsMethod(req.method);
  r.m().requests[size_t(m)][size_t(metrics::CodeFromStatus(o.status))].Add();
  size_t cell = size_t(o.handler) * kMethods + size_t(m);
  ++batch_[cell];
  batch_used_ |= uint64_t(1) << cell;
  ++unflushed_;
  r.m().in_flight.Add(1);
  if (!req.keep_alive) {
    discard_input_ = true;
    stop_reading_ = true;
    close_after_flush_ = true;
  }
  return MayAnswer();
}

void Connection::OnContinue() {
  // The interim response follows the answers to every earlier request.
  RunDeferred(true);
  out_.Append(http::k100Continue);
}

void Connection::RecordBatch() {
  if (unflushed_ == 0) return;
  // Every request of the batch waited for the same write: from the loop's wake-up to now.
  uint64_t nanos = MonotonicNanos() - reactor_->now_ns();
  metrics::ReactorMetrics& m = reactor_->m();
  for (uint64_t used = batch_used_; used != 0; used &= used - 1) {
    size_t cell = size_t(std::countr_zero(used));
    m.duration[cell / kMethods][cell % kMethods].Observe(nanos, batch_[cell]);
    batch_[cell] = 0;
  }
  batch_used_ = 0;
  m.in_flight.Add(-int64_t(unflushed_));
  unflushed_ = 0;
}

bool Connection::Flush() {
  for (;;) {
    if (!out_.empty()) {
      ssize_t w = ::write(fd_, out_.data(), out_.size());
      reactor_->m().syscalls_write.Add();
      if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) return false;  // the client is gone
      } else {
        out_.Consume(size_t(w));
        reactor_->m().bytes_written.Add(uint64_t(w));
        last_active_ms_ = reactor_->now_ms();
      }
      if (!out_.empty()) {  // the socket buffer is full: wait for EPOLLOUT
        CountBuffers();
        SetInterest();
        return true;
      }
    }
    RecordBatch();
    out_.ShrinkIfIdle(kKeepBufferBytes);
    if (!paused_) break;
    // Output drained: go on with the requests that were waiting for room — those held first.
    paused_ = false;
    bool go_on = RunDeferred(false);
    if (discard_input_) {  // a held request closed the connection: the rest is not answered
      pending_in_.Clear();
      if (out_.empty()) break;
      continue;
    }
    if (!go_on) {  // past the limit again: write first
      paused_ = true;
      continue;
    }
    parser_.Resume();
    Process(pending_in_.data(), pending_in_.size(), true);
    if (out_.empty()) break;
  }
  pending_in_.ShrinkIfIdle(kKeepBufferBytes);
  CountBuffers();
  if (close_after_flush_ && !paused_) {
    if (reactor_->stopping()) return false;
    // Half-close, then drain the client's leftovers for a while so it sees our last response
    // rather than a reset.
    if (::shutdown(fd_, SHUT_WR) != 0) return false;
    close_after_flush_ = false;
    lingering_ = true;
    linger_until_ms_ = reactor_->now_ms() + kLingerMs;
  }
  SetInterest();
  return true;
}

void Connection::CountBuffers() {
  size_t now = out_.capacity() + pending_in_.capacity() + kept_bytes_.capacity() + parser_.held_bytes();
  if (now != counted_buffer_bytes_) {
    reactor_->m().connection_buffer_bytes.Add(int64_t(now) - int64_t(counted_buffer_bytes_));
    counted_buffer_bytes_ = now;
  }
}

void Connection::SetInterest() {
  uint32_t want = (reading() || lingering_ ? uint32_t(EPOLLIN) : 0u) | (out_.empty() ? 0u : uint32_t(EPOLLOUT));
  if (want != events_) {
    reactor_->SetEvents(this, want);
    events_ = want;
  }
}

}  // namespace kvd::net

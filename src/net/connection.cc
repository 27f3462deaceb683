#include "net/connection.h"

#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

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
    default: return metrics::Method::kOther;
  }
}

}  // namespace

Connection::Connection(int fd, Reactor* reactor, uint64_t now_ms)
    : fd_(fd), reactor_(reactor), parser_(reactor->limits(), this), last_active_ms_(now_ms) {}

Connection::~Connection() {
  if (unflushed_) reactor_->m().in_flight.Add(-int64_t(unflushed_));
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
  Router::Context ctx{r.now_ms(), &out_, &r.date(), &r.m(), r.key_scratch(), !req.keep_alive};
  Router::Outcome o = r.router().Handle(req, ctx);
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
    return false;
  }
  return out_.size() < r.config().max_output_bytes;
}

void Connection::OnContinue() { out_.Append(http::k100Continue); }

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
        SetInterest();
        return true;
      }
    }
    RecordBatch();
    out_.ShrinkIfIdle(kKeepBufferBytes);
    if (!paused_) break;
    // Output drained: go on with the requests that were waiting for room.
    paused_ = false;
    parser_.Resume();
    Process(pending_in_.data(), pending_in_.size(), true);
    if (out_.empty()) break;
  }
  pending_in_.ShrinkIfIdle(kKeepBufferBytes);
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

void Connection::SetInterest() {
  uint32_t want = (reading() || lingering_ ? uint32_t(EPOLLIN) : 0u) | (out_.empty() ? 0u : uint32_t(EPOLLOUT));
  if (want != events_) {
    reactor_->SetEvents(this, want);
    events_ = want;
  }
}

}  // namespace kvd::net

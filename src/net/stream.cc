#include "net/stream.h"

#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "net/reactor.h"

namespace kvd::net {
namespace {

constexpr size_t kKeepBufferBytes = 64 << 10;  // larger idle buffers are given back
constexpr uint64_t kLingerMs = 2000;

}  // namespace

StreamConnection::StreamConnection(int fd, Reactor* reactor, const Limits* limits,
                                   metrics::Protocol speaks)
    : Connection(fd),
      reactor_(reactor),
      limits_(limits),
      metrics_(&reactor->m().of(speaks)),
      last_active_ms_(reactor->now_ms()) {}

StreamConnection::~StreamConnection() {
  reactor_->m().connection_buffer_bytes.Add(-int64_t(counted_buffer_bytes_));
}

bool StreamConnection::TimedOut(uint64_t now_ms) const {
  if (lingering_) return now_ms >= linger_until_ms_;
  if (RequestStalled(now_ms)) return true;
  return now_ms - last_active_ms_ >= uint64_t(absl::ToInt64Milliseconds(limits_->idle_timeout));
}

void StreamConnection::CloseAfterResponse() {
  discard_input_ = true;
  stop_reading_ = true;
  close_after_flush_ = true;
}

bool StreamConnection::OnReadable() {
  if (!ReadOnce()) return false;
  return shutting_down_ ? ShutdownStep() : true;
}

bool StreamConnection::ReadOnce() {
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
  metrics_->bytes_read.Add(uint64_t(n));
  if (lingering_) return true;  // discarding what follows the last response
  last_active_ms_ = reactor_->now_ms();
  Process(buf, size_t(n), false);
  return Flush();
}

bool StreamConnection::OnWritable() {
  if (!Flush()) return false;
  return shutting_down_ ? ShutdownStep() : true;
}

bool StreamConnection::BeginShutdown() {
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

bool StreamConnection::ShutdownStep() {
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

void StreamConnection::Process(const char* data, size_t n, bool from_pending) {
  FeedResult r = Feed(data, n);
  switch (r.state) {
    case Parsed::kAll:
      if (from_pending) pending_in_.Clear();
      break;
    case Parsed::kPaused:
      if (discard_input_) {
        pending_in_.Clear();  // the rest follows a close; it is not answered
        break;
      }
      paused_ = true;
      if (from_pending) {
        pending_in_.Consume(r.consumed);
      } else {
        pending_in_.Append(data + r.consumed, n - r.consumed);
      }
      break;
    case Parsed::kFailed:
      pending_in_.Clear();
      metrics_->closed_bad_input.Add();
      CloseAfterResponse();
      paused_ = false;
      break;
  }
}

bool StreamConnection::Flush() {
  for (;;) {
    if (!out_.empty()) {
      ssize_t w = ::write(fd_, out_.data(), out_.size());
      reactor_->m().syscalls_write.Add();
      if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) return false;  // the client is gone
      } else {
        out_.Consume(size_t(w));
        metrics_->bytes_written.Add(uint64_t(w));
        last_active_ms_ = reactor_->now_ms();
      }
      if (!out_.empty()) {  // the socket buffer is full: wait for EPOLLOUT
        CountBuffers();
        SetInterest();
        return true;
      }
    }
    OnFlushed();
    out_.ShrinkIfIdle(kKeepBufferBytes);
    if (!paused_) break;
    // Output drained: go on with what was waiting for room — what the protocol held first.
    paused_ = false;
    bool go_on = Resume();
    if (discard_input_) {  // a held request closed the connection: the rest is not answered
      pending_in_.Clear();
      if (out_.empty()) break;
      continue;
    }
    if (!go_on) {  // past the limit again: write first
      paused_ = true;
      continue;
    }
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

void StreamConnection::CountBuffers() {
  size_t now = out_.capacity() + pending_in_.capacity() + HeldBytes();
  if (now != counted_buffer_bytes_) {
    reactor_->m().connection_buffer_bytes.Add(int64_t(now) - int64_t(counted_buffer_bytes_));
    counted_buffer_bytes_ = now;
  }
}

void StreamConnection::SetInterest() {
  uint32_t want = (reading() || lingering_ ? uint32_t(EPOLLIN) : 0u) | (out_.empty() ? 0u : uint32_t(EPOLLOUT));
  if (want != events_) {
    reactor_->SetEvents(this, want);
    events_ = want;
  }
}

}  // namespace kvd::net

#include "net/reactor.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "http/connection.h"
#include "util/clock.h"
#include "util/log.h"

namespace kvd::net {
namespace {

constexpr size_t kReadBufferBytes = 64 << 10;
constexpr int kMaxEvents = 256;
constexpr int kTickMs = 10;               // housekeeping cadence when there is no backlog
// Entries visited per shard per slice of housekeeping (expiry, evicting ahead). Reclaiming
// measured 140-290 ns a key (scripts/bench/expiry_spike.sh), so a slice holds the reactor for well
// under a millisecond.
constexpr size_t kHousekeepBudget = 2000;
constexpr uint64_t kAcceptPauseMs = 100;  // after EMFILE/ENFILE
constexpr int kAcceptBatch = 64;

// epoll data for the two non-connection fds; connection pointers are never this small.
constexpr uint64_t kListenTag = 1, kWakeTag = 2;

}  // namespace

Reactor::Reactor(size_t id, size_t reactors, const Config* config, store::Store* store,
                 const http::Router* router, int listen_fd, std::atomic<size_t>* open_connections)
    : id_(id),
      reactors_(reactors),
      config_(config),
      store_(store),
      router_(router),
      listen_fd_(listen_fd),
      open_connections_(open_connections),
      read_buffer_(kReadBufferBytes) {
  metrics_.connection_buffer_bytes.Add(int64_t(read_buffer_.size()));
  limits_.max_header_bytes = config->max_header_bytes;
  limits_.max_body_bytes = config->max_value_bytes;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  ev.data.u64 = kListenTag;
  listening_ = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) == 0;
}

Reactor::~Reactor() {
  for (Connection* c : conns_) delete c;
  for (Connection* c : dead_) delete c;
  if (listen_fd_ >= 0) close(listen_fd_);
  close(wake_fd_);
  close(epoll_fd_);
}

void Reactor::Start() { thread_ = std::thread([this] { Run(); }); }
void Reactor::Join() {
  if (thread_.joinable()) thread_.join();
}

void Reactor::RequestStop() {
  uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof one);
  (void)ignored;
}

void Reactor::SetEvents(Connection* c, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = c;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd(), &ev);
}

void Reactor::Tick() {
  now_ns_ = MonotonicNanos();
  now_ms_ = now_ns_ / 1000000;
  timespec rt;
  clock_gettime(CLOCK_REALTIME_COARSE, &rt);
  date_.Update(rt.tv_sec);
}

void Reactor::Run() {
  epoll_event events[kMaxEvents];
  Tick();
  next_sweep_ms_ = now_ms_ + 1000;
  uint64_t next_housekeep_ms = now_ms_;
  for (;;) {
    int timeout = next_housekeep_ms <= now_ms_ ? 0 : int(next_housekeep_ms - now_ms_);
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
    metrics_.syscalls_epoll_wait.Add();
    Tick();
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kListenTag) {
        Accept();
        continue;
      }
      if (tag == kWakeTag) {
        uint64_t v;
        ssize_t ignored = read(wake_fd_, &v, sizeof v);
        (void)ignored;
        BeginStop();
        continue;
      }
      auto* c = static_cast<Connection*>(events[i].data.ptr);
      if (c->closed) continue;
      uint32_t e = events[i].events;
      bool ok = true;
      if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) ok = c->OnReadable();
      if (ok && (e & EPOLLOUT)) ok = c->OnWritable();
      if (ok && (e & EPOLLERR)) ok = false;
      if (!ok) Close(c, false);
    }
    if (now_ms_ >= next_housekeep_ms) {
      next_housekeep_ms = Housekeep() ? now_ms_ + kTickMs : now_ms_;
    }
    if (now_ms_ >= next_sweep_ms_) Sweep();
    for (Connection* c : dead_) delete c;
    dead_.clear();
    if (stopping_ && (conns_.empty() || now_ms_ >= stop_deadline_ms_)) break;
  }
  for (Connection* c : conns_) Close(c, false);
  for (Connection* c : dead_) delete c;
  dead_.clear();
}

bool Reactor::Housekeep() {
  bool caught_up = true;
  for (size_t s = id_; s < store_->shards(); s += reactors_) {
    caught_up &= store_->Housekeep(s, now_ms_, kHousekeepBudget);
  }
  return caught_up;
}

void Reactor::Accept() {
  for (int i = 0; i < kAcceptBatch; ++i) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop watching the listener for a while rather than spin on it;
        // connections already open keep being served.
        log::Warn("accept: {}; pausing accepts for {} ms", strerror(errno), kAcceptPauseMs);
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        listening_ = false;
        accept_resume_ms_ = now_ms_ + kAcceptPauseMs;
        next_sweep_ms_ = std::min(next_sweep_ms_, accept_resume_ms_);
      }
      return;  // EAGAIN, or a connection that died in the queue
    }
    if (open_connections_->fetch_add(1, std::memory_order_relaxed) >= config_->max_connections) {
      open_connections_->fetch_sub(1, std::memory_order_relaxed);
      metrics_.connections_rejected.Add();
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto* c = new Connection(fd, this, now_ms_);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      open_connections_->fetch_sub(1, std::memory_order_relaxed);
      delete c;
      continue;
    }
    c->index = conns_.size();
    conns_.push_back(c);
    metrics_.connections_accepted.Add();
    metrics_.connections_open.Add(1);
    if (stopping_ && !c->BeginShutdown()) Close(c, false);
  }
}

void Reactor::Close(Connection* c, bool timed_out) {
  if (c->closed) return;
  c->closed = true;
  if (timed_out) metrics_.connections_closed_timeout.Add();
  // Swap-remove from the list; the object dies at the end of the loop iteration, after any
  // events already returned for it have been skipped.
  Connection* last = conns_.back();
  conns_[c->index] = last;
  last->index = c->index;
  conns_.pop_back();
  dead_.push_back(c);
  metrics_.connections_open.Add(-1);
  open_connections_->fetch_sub(1, std::memory_order_relaxed);
}

void Reactor::Sweep() {
  next_sweep_ms_ = now_ms_ + 1000;
  if (!listening_ && !stopping_ && now_ms_ >= accept_resume_ms_) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenTag;
    listening_ = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) == 0;
  }
  for (size_t i = 0; i < conns_.size();) {
    Connection* c = conns_[i];
    if (c->TimedOut(now_ms_)) {
      Close(c, true);  // swaps another connection into slot i
    } else {
      ++i;
    }
  }
}

void Reactor::BeginStop() {
  if (stopping_) return;
  stopping_ = true;
  stop_deadline_ms_ = now_ms_ + uint64_t(absl::ToInt64Milliseconds(config_->shutdown_timeout));
  if (listen_fd_ >= 0) {
    close(listen_fd_);  // also removes it from the epoll set
    listen_fd_ = -1;
    listening_ = false;
  }
  for (size_t i = 0; i < conns_.size();) {
    Connection* c = conns_[i];
    if (!c->BeginShutdown()) {
      Close(c, false);
    } else {
      ++i;
    }
  }
}

}  // namespace kvd::net

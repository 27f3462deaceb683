#include "net/reactor.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/clock.h"
#include "util/log.h"

namespace kvd::net {
namespace {

constexpr size_t kReadBufferBytes = 64 << 10;
constexpr int kMaxEvents = 256;
constexpr uint64_t kSweepMs = 1000;       // timeouts are checked this often
constexpr uint64_t kAcceptPauseMs = 100;  // after EMFILE/ENFILE
constexpr int kAcceptBatch = 64;

// epoll data of the eventfd, and of listener i: low bits 2 and 1, which a Connection* (aligned to
// 8) never has.
constexpr uint64_t kWakeTag = 2;
uint64_t ListenTag(size_t i) { return (uint64_t(i) << 2) | 1; }

}  // namespace

Reactor::Reactor(size_t id, const Options& options)
    : id_(id), options_(options), read_buffer_(kReadBufferBytes) {
  // The epoll instance is the first descriptor made (the fuzz harness finds it so).
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  metrics_.connection_buffer_bytes.Add(int64_t(read_buffer_.size()));
}

Reactor::~Reactor() {
  for (Connection* c : conns_) delete c;
  for (Connection* c : dead_) delete c;
  for (const Listening& l : listeners_) {
    if (l.fd >= 0) close(l.fd);
  }
  close(wake_fd_);
  close(epoll_fd_);
}

void Reactor::AddListener(int fd, ConnectionFactory* factory) {
  listeners_.push_back({fd, factory, false});
  Listening& l = listeners_.back();
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = ListenTag(listeners_.size() - 1);
  l.watched = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void Reactor::AddTask(uint64_t period_ms, std::function<bool(uint64_t)> run) {
  (period_ms == 0 ? wake_tasks_ : periodic_tasks_).push_back({period_ms, std::move(run)});
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
  for (Task& t : wake_tasks_) t.run(now_ms_);
}

uint64_t Reactor::RunTasks() {
  uint64_t next = now_ms_ + kSweepMs;
  for (Task& t : periodic_tasks_) {
    if (now_ms_ >= t.next_ms) t.next_ms = t.run(now_ms_) ? now_ms_ + t.period_ms : now_ms_;
    next = std::min(next, t.next_ms);
  }
  return next;
}

void Reactor::Run() {
  epoll_event events[kMaxEvents];
  Tick();
  next_sweep_ms_ = now_ms_ + kSweepMs;
  uint64_t next_task_ms = now_ms_;
  for (;;) {
    uint64_t wake = std::min(next_task_ms, next_sweep_ms_);
    int timeout = wake <= now_ms_ ? 0 : int(wake - now_ms_);
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
    metrics_.syscalls_epoll_wait.Add();
    Tick();
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        uint64_t v;
        ssize_t ignored = read(wake_fd_, &v, sizeof v);
        (void)ignored;
        BeginStop();
        continue;
      }
      if (tag & 1) {
        Accept(&listeners_[tag >> 2]);
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
    if (now_ms_ >= next_task_ms) next_task_ms = RunTasks();
    if (now_ms_ >= next_sweep_ms_) Sweep();
    for (Connection* c : dead_) delete c;
    dead_.clear();
    if (stopping_ && (conns_.empty() || now_ms_ >= stop_deadline_ms_)) break;
  }
  for (Connection* c : conns_) Close(c, false);
  for (Connection* c : dead_) delete c;
  dead_.clear();
}

void Reactor::WatchListeners(bool on) {
  for (size_t i = 0; i < listeners_.size(); ++i) {
    Listening& l = listeners_[i];
    if (l.fd < 0 || l.watched == on) continue;
    if (on) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = ListenTag(i);
      l.watched = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, l.fd, &ev) == 0;
    } else {
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, l.fd, nullptr);
      l.watched = false;
    }
  }
}

void Reactor::Accept(Listening* l) {
  for (int i = 0; i < kAcceptBatch; ++i) {
    int fd = accept4(l->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop watching the listeners for a while rather than spin on them;
        // connections already open keep being served.
        log::Warn("accept: {}; pausing accepts for {} ms", strerror(errno), kAcceptPauseMs);
        WatchListeners(false);
        accept_paused_ = true;
        accept_resume_ms_ = now_ms_ + kAcceptPauseMs;
        next_sweep_ms_ = std::min(next_sweep_ms_, accept_resume_ms_);
      }
      return;  // EAGAIN, or a connection that died in the queue
    }
    std::atomic<size_t>* open = options_.open_connections;
    if (open->fetch_add(1, std::memory_order_relaxed) >= options_.max_connections) {
      open->fetch_sub(1, std::memory_order_relaxed);
      metrics_.connections_rejected.Add();
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Connection* c = l->factory->Accept(fd, this);
    c->protocol = l->factory->protocol();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      open->fetch_sub(1, std::memory_order_relaxed);
      delete c;
      continue;
    }
    c->index = conns_.size();
    conns_.push_back(c);
    metrics::ConnectionMetrics& m = metrics_.of(c->protocol);
    m.accepted.Add();
    m.open.Add(1);
    if (stopping_ && !c->BeginShutdown()) Close(c, false);
  }
}

void Reactor::Close(Connection* c, bool timed_out) {
  if (c->closed) return;
  c->closed = true;
  metrics::ConnectionMetrics& m = metrics_.of(c->protocol);
  if (timed_out) m.closed_timeout.Add();
  // Swap-remove from the list; the object dies at the end of the loop iteration, after any
  // events already returned for it have been skipped.
  Connection* last = conns_.back();
  conns_[c->index] = last;
  last->index = c->index;
  conns_.pop_back();
  dead_.push_back(c);
  m.open.Add(-1);
  options_.open_connections->fetch_sub(1, std::memory_order_relaxed);
}

void Reactor::Sweep() {
  next_sweep_ms_ = now_ms_ + kSweepMs;
  if (accept_paused_ && !stopping_ && now_ms_ >= accept_resume_ms_) {
    WatchListeners(true);
    accept_paused_ = false;
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
  stop_deadline_ms_ = now_ms_ + uint64_t(absl::ToInt64Milliseconds(options_.shutdown_timeout));
  for (Listening& l : listeners_) {
    if (l.fd < 0) continue;
    close(l.fd);  // also removes it from the epoll set
    l.fd = -1;
    l.watched = false;
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

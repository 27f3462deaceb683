#include "kvbench/client.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "kvbench/response_parser.h"
#include "util/clock.h"

namespace kvbench {
namespace {

constexpr int64_t kNsPerSec = 1000000000;
constexpr int64_t kTickNs = 100 * 1000000;        // timers and progress
constexpr int64_t kConnectRetryNs = 100 * 1000000;  // after a failed connect
constexpr size_t kReadBytes = 256 * 1024;

struct InFlight {
  int64_t sent_ns;
  uint8_t kind;
  bool follow;  // a GET whose response feeds a POST/PUT
};

}  // namespace

int64_t NowNs() { return static_cast<int64_t>(kvd::MonotonicNanos()); }

void KindStats::Merge(const KindStats& o) {
  latency.Merge(o.latency);
  responses += o.responses;
  status_2xx += o.status_2xx;
  status_non2xx += o.status_non2xx;
  errors += o.errors;
  timeouts += o.timeouts;
  bytes += o.bytes;
  if (requests_per_sec.size() < o.requests_per_sec.size()) {
    requests_per_sec.resize(o.requests_per_sec.size());
    bytes_per_sec.resize(o.bytes_per_sec.size());
  }
  for (size_t i = 0; i < o.requests_per_sec.size(); i++) {
    requests_per_sec[i] += o.requests_per_sec[i];
    bytes_per_sec[i] += o.bytes_per_sec[i];
  }
}

void ErrorStats::Merge(const ErrorStats& o) {
  connect += o.connect;
  read += o.read;
  write += o.write;
  closed += o.closed;
  protocol += o.protocol;
  timeouts += o.timeouts;
  reconnects += o.reconnects;
  connections_opened += o.connections_opened;
}

RunStats::RunStats(size_t seconds) {
  for (auto& k : kind) {
    k.requests_per_sec.assign(seconds, 0);
    k.bytes_per_sec.assign(seconds, 0);
  }
}

void RunStats::Merge(const RunStats& o) {
  for (int i = 0; i < kKinds; i++) kind[i].Merge(o.kind[i]);
  errors.Merge(o.errors);
}

struct Worker::Connection {
  enum class State : uint8_t { kIdle, kConnecting, kOpen };
  int fd = -1;
  State state = State::kIdle;
  uint32_t events = 0;       // currently registered epoll events
  int64_t deadline_ns = 0;   // kIdle: when to connect; kConnecting: connect timeout
  int64_t last_recv_ns = 0;  // kOpen: last time bytes arrived (or the connection opened)
  ResponseParser parser;
  // FIFO of in-flight requests (capacity = pipelining). The last `unstamped` entries have not
  // been handed to send() yet.
  std::unique_ptr<InFlight[]> ring;
  uint32_t cap = 0, head = 0, count = 0, unstamped = 0;
  // Requests not yet written: wbuf[woff, wlen).
  std::unique_ptr<char[]> wbuf;
  size_t wcap = 0, woff = 0, wlen = 0;
  // Incomplete response head carried to the next read.
  std::unique_ptr<char[]> carry;
  size_t carry_len = 0;

  InFlight& Front() { return ring[head]; }
  void Pop() {
    head = head + 1 == cap ? 0 : head + 1;
    count--;
  }
  void Push(const InFlight& f) {
    uint32_t i = head + count;
    if (i >= cap) i -= cap;
    ring[i] = f;
    count++;
    unstamped++;
  }
  // Returns where the next request (at most `max` bytes) may be written.
  char* Reserve(size_t max) {
    if (wlen + max > wcap) {
      std::memmove(wbuf.get(), wbuf.get() + woff, wlen - woff);
      wlen -= woff;
      woff = 0;
    }
    return wbuf.get() + wlen;
  }
};

Worker::Worker(const Config& config, int index, int connections, const RunClock& clock,
               const std::atomic<bool>* stop)
    : config_(config),
      clock_(clock),
      stop_(stop),
      writer_(config),
      rng_(SplitMix64(config.seed).Next() + static_cast<uint64_t>(index) * 0x9e3779b97f4a7c15ULL),
      follow_(config.post_ratio),
      seconds_(static_cast<size_t>((clock.end_ns - clock.measure_ns + kNsPerSec - 1) / kNsPerSec)),
      stats_(seconds_) {
  read_cap_ = kReadBytes + ResponseParser::kMaxHeadBytes;
  read_buf_.reset(new char[read_cap_]);
  const uint32_t p = static_cast<uint32_t>(config.pipelining);
  for (int i = 0; i < connections; i++) {
    auto c = std::make_unique<Connection>();
    c->cap = p;
    c->ring.reset(new InFlight[p]);
    // Room for every slot's request at once (at most `pipelining` are ever unsent), plus one.
    c->wcap = (p + 1) * writer_.max_request_bytes();
    c->wbuf.reset(new char[c->wcap]);
    c->carry.reset(new char[ResponseParser::kMaxHeadBytes]);
    conns_.push_back(std::move(c));
  }
}

Worker::~Worker() {
  for (auto& c : conns_)
    if (c->fd >= 0) close(c->fd);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

void Worker::SetEvents(Connection& c, uint32_t events) {
  if (c.events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &c;
  epoll_ctl(epoll_fd_, c.events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev);
  c.events = events;
}

void Worker::StartConnect(Connection& c, int64_t now) {
  const Target& t = config_.target;
  c.fd = socket(t.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    stats_.errors.connect++;
    c.state = Connection::State::kIdle;
    c.deadline_ns = now + kConnectRetryNs;
    return;
  }
  const int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c.events = 0;
  if (connect(c.fd, reinterpret_cast<const sockaddr*>(&t.addr), t.addr_len) == 0) {
    OnOpen(c, now);
    return;
  }
  if (errno == EINPROGRESS) {
    c.state = Connection::State::kConnecting;
    c.deadline_ns = now + absl::ToInt64Nanoseconds(config_.timeout);
    SetEvents(c, EPOLLOUT);
    return;
  }
  stats_.errors.connect++;
  close(c.fd);
  c.fd = -1;
  c.state = Connection::State::kIdle;
  c.deadline_ns = now + kConnectRetryNs;
}

void Worker::FinishConnect(Connection& c, int64_t now) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) {
    stats_.errors.connect++;
    Drop(c, now, kConnectRetryNs);
    return;
  }
  OnOpen(c, now);
}

void Worker::OnOpen(Connection& c, int64_t now) {
  c.state = Connection::State::kOpen;
  c.last_recv_ns = now;
  c.parser.Reset();
  c.head = c.count = c.unstamped = 0;
  c.woff = c.wlen = 0;
  c.carry_len = 0;
  stats_.errors.connections_opened++;
  for (uint32_t i = 0; i < c.cap; i++) EnqueueGet(c);
  SetEvents(c, EPOLLIN | EPOLLET);
  Flush(c);
}

// Closes the connection; it reconnects now (retry_delay_ns == 0) or after the delay.
void Worker::Drop(Connection& c, int64_t now, int64_t retry_delay_ns) {
  if (c.fd >= 0) {
    close(c.fd);  // also removes it from the epoll set
    c.fd = -1;
  }
  c.events = 0;
  c.count = c.unstamped = 0;
  c.woff = c.wlen = 0;
  c.carry_len = 0;
  c.parser.Reset();
  stats_.errors.reconnects++;
  if (retry_delay_ns == 0 && now < clock_.end_ns) {
    StartConnect(c, now);
  } else {
    c.state = Connection::State::kIdle;
    c.deadline_ns = now + retry_delay_ns;
  }
}

void Worker::Fail(Connection& c, uint64_t& counter, int64_t now, bool timeout) {
  counter++;
  if (c.state == Connection::State::kOpen && c.count > 0) {
    KindStats& k = stats_.kind[c.Front().kind];
    k.errors++;
    if (timeout) k.timeouts++;
  }
  Drop(c, now, 0);
}

void Worker::EnqueueGet(Connection& c) {
  char* out = c.Reserve(writer_.max_request_bytes());
  const uint64_t key = rng_.Below(config_.keys);
  c.wlen += writer_.WriteGet(out, key);
  c.Push(InFlight{0, kGet, follow_.Flip(rng_)});
}

void Worker::EnqueueSet(Connection& c, int64_t value) {
  char* out = c.Reserve(writer_.max_request_bytes());
  const uint64_t key = rng_.Below(config_.keys);
  c.wlen += writer_.WriteSet(out, key, value);
  c.Push(InFlight{0, kSet, false});
}

// Sends what is pending; returns false if the connection was dropped.
bool Worker::Flush(Connection& c) {
  if (c.woff == c.wlen) return true;
  if (c.unstamped) {
    const int64_t now = NowNs();
    uint32_t i = c.head + (c.count - c.unstamped);
    for (uint32_t k = 0; k < c.unstamped; k++, i++) {
      if (i >= c.cap) i -= c.cap;
      c.ring[i].sent_ns = now;
    }
    c.unstamped = 0;
  }
  const ssize_t w = send(c.fd, c.wbuf.get() + c.woff, c.wlen - c.woff, MSG_NOSIGNAL);
  if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    Fail(c, stats_.errors.write, NowNs());
    return false;
  }
  if (w > 0) c.woff += static_cast<size_t>(w);
  if (c.woff == c.wlen) {
    c.woff = c.wlen = 0;
    SetEvents(c, EPOLLIN | EPOLLET);
  } else {
    SetEvents(c, EPOLLIN | EPOLLOUT | EPOLLET);
  }
  return true;
}

// Open connections are edge-triggered (EPOLLET): epoll then reports a connection once per arrival
// of bytes instead of polling it again on the next epoll_wait, so it is read until a short read
// (drained: any later bytes raise a new edge).
void Worker::OnReadable(Connection& c) {
  char* const buf = read_buf_.get();
  for (;;) {
    if (c.carry_len) std::memcpy(buf, c.carry.get(), c.carry_len);
    const ssize_t r = recv(c.fd, buf + c.carry_len, kReadBytes, 0);
    if (r <= 0) {
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
      Fail(c, r == 0 ? stats_.errors.closed : stats_.errors.read, NowNs());
      return;
    }
    const int64_t now = NowNs();
    c.last_recv_ns = now;
    const bool in_window = now >= clock_.measure_ns && now < clock_.end_ns;
    const size_t sec = in_window ? static_cast<size_t>((now - clock_.measure_ns) / kNsPerSec) : 0;
    const size_t len = c.carry_len + static_cast<size_t>(r);
    size_t off = 0;
    while (off < len) {
      if (c.count == 0) {  // a response nobody asked for
        Fail(c, stats_.errors.protocol, now);
        return;
      }
      const InFlight f = c.Front();
      size_t used = 0;
      const auto res = c.parser.Parse(buf + off, len - off, f.follow, &used);
      off += used;
      if (res == ResponseParser::Result::kNeedMore) break;
      if (res == ResponseParser::Result::kError) {
        Fail(c, stats_.errors.protocol, now);
        return;
      }
      const Response& resp = c.parser.response();
      c.Pop();
      local_responses_[f.kind]++;
      if (in_window && f.sent_ns >= clock_.measure_ns) {
        KindStats& k = stats_.kind[f.kind];
        k.latency.Record(static_cast<uint64_t>(now - f.sent_ns));
        k.responses++;
        if (resp.status >= 200 && resp.status < 300) {
          k.status_2xx++;
        } else {
          k.status_non2xx++;
        }
        k.bytes += resp.wire_bytes;
        if (sec < seconds_) {
          k.requests_per_sec[sec]++;
          k.bytes_per_sec[sec] += resp.wire_bytes;
        }
      }
      if (resp.close) {  // the server will close after this response
        Drop(c, now, 0);
        return;
      }
      // Replies never outnumber the requests in flight, so the unsent requests (and wbuf) stay
      // within `pipelining` however many reads this loop makes.
      if (f.kind == kGet && f.follow) {
        const bool ok = resp.value_ok && resp.value != INT64_MAX;
        EnqueueSet(c, ok ? resp.value + 1 : 1);
      } else {
        EnqueueGet(c);
      }
    }
    c.carry_len = len - off;
    if (c.carry_len) std::memcpy(c.carry.get(), buf + off, c.carry_len);
    if (static_cast<size_t>(r) < kReadBytes) break;  // drained
  }
  if (c.events & EPOLLOUT) return;  // a send is pending: EPOLLOUT will flush
  Flush(c);
}

void Worker::CheckTimers(int64_t now) {
  const int64_t timeout = absl::ToInt64Nanoseconds(config_.timeout);
  for (auto& cp : conns_) {
    Connection& c = *cp;
    switch (c.state) {
      case Connection::State::kIdle:
        if (now >= c.deadline_ns) StartConnect(c, now);
        break;
      case Connection::State::kConnecting:
        if (now >= c.deadline_ns) Fail(c, stats_.errors.timeouts, now, true);
        break;
      case Connection::State::kOpen:
        if (c.count > 0 && now - c.last_recv_ns >= timeout)
          Fail(c, stats_.errors.timeouts, now, true);
        break;
    }
  }
}

void Worker::Publish() {
  for (int k = 0; k < kKinds; k++)
    progress_.responses[k].store(local_responses_[k], std::memory_order_relaxed);
  progress_.errors.store(stats_.errors.Total(), std::memory_order_relaxed);
}

void Worker::Run() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return;
  int64_t now = NowNs();
  for (auto& c : conns_) StartConnect(*c, now);
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  int64_t next_tick = now + kTickNs;
  for (;;) {
    now = NowNs();
    if (now >= clock_.end_ns || stop_->load(std::memory_order_relaxed)) break;
    if (now >= next_tick) {
      CheckTimers(now);
      Publish();
      next_tick = now + kTickNs;
    }
    const int64_t wake = std::min(next_tick, clock_.end_ns);
    const int timeout_ms = static_cast<int>(std::clamp<int64_t>((wake - now + 999999) / 1000000, 0, 100));
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
    for (int i = 0; i < n; i++) {
      Connection& c = *static_cast<Connection*>(events[i].data.ptr);
      const uint32_t ev = events[i].events;
      if (c.state == Connection::State::kConnecting) {
        FinishConnect(c, NowNs());
      } else if (c.state == Connection::State::kOpen) {
        if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) OnReadable(c);
        // (If OnReadable dropped and reopened the connection, this Flush is a harmless no-op.)
        if ((ev & EPOLLOUT) && c.state == Connection::State::kOpen) Flush(c);
      }
    }
  }
  Publish();
}

bool ProbeConnect(const Target& t, absl::Duration timeout, std::string* error) {
  const int fd = socket(t.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = absl::StrCat("socket: ", strerror(errno));
    return false;
  }
  int err = 0;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&t.addr), t.addr_len) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      const int rc = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
      if (rc == 0) {
        err = ETIMEDOUT;
      } else if (rc < 0) {
        err = errno;
      } else {
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
  }
  close(fd);
  if (err != 0) {
    *error = absl::StrCat("cannot connect to ", t.host, ":", t.port, ": ", strerror(err));
    return false;
  }
  return true;
}

}  // namespace kvbench

// kvfloor: the cost floor for kvd's benchmarks. A trivial epoll loop, one per thread with its own
// SO_REUSEPORT listener like kvd's reactors, that parses nothing: it counts request ends
// (CRLFCRLF) in what it reads and answers each with the same fixed bytes a kvd GET hit sends,
// all the answers to one read in one write. Whatever CPU it spends per request is the part of
// kvd's cost that only the kernel and the client's batching decide; scripts/bench/bench.sh runs it
// beside kvd with the same client.
//
// With --resp it is the same floor for RESP2 (scripts/bench/resp_bench.sh): it frames multibulk
// commands (`*N`, then N times `$len` and a payload it skips unread), the least any RESP server must
// do to know where a command ends, and answers each by the first letter of its name with the
// reply redis-benchmark's default test would get: GET a 3-byte bulk (`-d 3`'s "xxx"), INCR/DECR
// `:1`, PING `+PONG`, CONFIG an empty array, anything else `+OK`. Inline commands end at LF.
//
// It is correct only for requests without a CRLFCRLF in their bodies (kvbench's decimal values),
// and it is not a server anyone should deploy. SIGUSR1 prints the requests answered so far to
// stdout (a server-side count, like kvd's api_requests_total); SIGTERM and SIGINT stop it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"

ABSL_FLAG(int, port, 8082, "TCP port to listen on (0 picks a free one)");
ABSL_FLAG(std::string, bind, "127.0.0.1", "IPv4 address to listen on");
ABSL_FLAG(int, threads, 1, "event loops, each with its own SO_REUSEPORT listener");
ABSL_FLAG(bool, resp, false, "speak RESP2: frame each command and answer it with a fixed reply");

namespace {

// The bytes kvd sends for a GET hit on a 6-byte value (a fixed date: nothing is formatted).
constexpr std::string_view kResponse =
    "HTTP/1.1 200 OK\r\nDate: Mon, 30 Nov 2026 00:00:00 GMT\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n\r\n123456";

std::atomic<bool> g_stop{false};
std::atomic<bool> g_report{false};

// Where RESP commands end, kept across reads. Only the decimal headers are looked at byte by
// byte; a payload is stepped over by its length, as a server that parses lengths would.
struct RespFramer {
  enum class St : uint8_t { kStart, kInline, kCount, kBulkStart, kBulkLen, kPayload };
  St st = St::kStart;
  bool name_next = false;  // the next payload byte starts the command's name
  char name = 0;
  uint64_t num = 0;   // the decimal being read: argument count or bulk length
  uint64_t args = 0;  // bulks still to come in this command
  uint64_t skip = 0;  // payload bytes still to step over, with their CRLF

  // Appends one reply per command that ends in [p, p + n) to `out`; returns how many.
  size_t Feed(const char* p, size_t n, std::string* out);
  static void Reply(char name, std::string* out);
};

void RespFramer::Reply(char name, std::string* out) {
  switch (name | 0x20) {  // ASCII lower case
    case 'g': out->append("$3\r\nxxx\r\n"); break;
    case 'i': case 'd': out->append(":1\r\n"); break;
    case 'p': out->append("+PONG\r\n"); break;
    case 'c': out->append("*0\r\n"); break;
    default: out->append("+OK\r\n");
  }
}

size_t RespFramer::Feed(const char* p, size_t n, std::string* out) {
  size_t done = 0, i = 0;
  while (i < n) {
    switch (st) {
      case St::kStart:
        st = p[i] == '*' ? St::kCount : St::kInline;
        name = p[i];
        num = 0;
        i += st == St::kCount;  // an inline command's first byte is its name's
        break;
      case St::kInline: {
        const void* lf = std::memchr(p + i, '\n', n - i);
        if (lf == nullptr) return done;
        i = size_t(static_cast<const char*>(lf) - p) + 1;
        Reply(name, out);
        ++done;
        st = St::kStart;
        break;
      }
      case St::kCount:
      case St::kBulkLen: {
        char c = p[i++];
        if (c >= '0' && c <= '9') {
          num = num * 10 + uint64_t(c - '0');
        } else if (c == '\n') {
          if (st == St::kCount) {
            args = num;
            name_next = true;
            st = args == 0 ? St::kStart : St::kBulkStart;  // `*0`: no command, no reply (Redis)
          } else {
            skip = num + 2;
            st = St::kPayload;
          }
        }
        break;
      }
      case St::kBulkStart:
        i += p[i] == '$';
        num = 0;
        st = St::kBulkLen;
        break;
      case St::kPayload: {
        if (name_next) {
          name = p[i];
          name_next = false;
        }
        size_t take = size_t(std::min<uint64_t>(skip, n - i));
        i += take;
        skip -= take;
        if (skip == 0) {
          if (--args == 0) {
            Reply(name, out);
            ++done;
            st = St::kStart;
          } else {
            st = St::kBulkStart;
          }
        }
        break;
      }
    }
  }
  return done;
}

struct Conn {
  int fd;
  uint32_t tail = 0;    // the last bytes read, for a CRLFCRLF split across reads
  uint32_t events = EPOLLIN;
  std::string out;      // answers the socket had no room for yet
  RespFramer resp;
};

// Request ends in [p, p + n), given the bytes before p in `*tail` (updated).
size_t CountEnds(const char* p, size_t n, uint32_t* tail) {
  size_t ends = 0;
  uint32_t t = *tail;
  for (size_t i = 0; i < n; ++i) {
    t = (t << 8) | static_cast<unsigned char>(p[i]);
    ends += t == 0x0d0a0d0a;
  }
  *tail = t;
  return ends;
}

int Listen(const std::string& addr, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(port));
  if (inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1 ||
      bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd, 1024) != 0) {
    perror("kvfloor: listen");
    std::exit(1);
  }
  return fd;
}

int BoundPort(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin_port);
}

void Loop(int listener, bool resp, std::atomic<uint64_t>* answered) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{EPOLLIN, {.ptr = nullptr}};
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  std::vector<char> in(64 << 10), out;
  epoll_event events[256];
  while (!g_stop.load(std::memory_order_relaxed)) {
    int n = epoll_wait(ep, events, 256, 100);
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Conn*>(events[i].data.ptr);
      if (c == nullptr) {
        int fd;
        while ((fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          int one = 1;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event cev{EPOLLIN, {.ptr = new Conn{fd, 0, EPOLLIN, {}, {}}}};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      bool alive = true;
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r = read(c->fd, in.data(), in.size());
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) alive = false;
        if (r > 0 && resp) {
          answered->fetch_add(c->resp.Feed(in.data(), size_t(r), &c->out), std::memory_order_relaxed);
        } else if (r > 0) {
          size_t ends = CountEnds(in.data(), size_t(r), &c->tail);
          answered->fetch_add(ends, std::memory_order_relaxed);
          for (size_t k = 0; k < ends; ++k) c->out.append(kResponse);
        }
      }
      if (alive && !c->out.empty()) {
        ssize_t w = write(c->fd, c->out.data(), c->out.size());
        if (w < 0 && errno != EAGAIN && errno != EINTR) alive = false;
        if (w > 0) c->out.erase(0, size_t(w));
        // Like kvd: epoll_ctl only when the interest changes, not once per batch.
        uint32_t want = EPOLLIN | (c->out.empty() ? 0u : uint32_t(EPOLLOUT));
        if (alive && want != c->events) {
          epoll_event cev{want, {.ptr = c}};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
          c->events = want;
        }
      }
      if (!alive) {
        close(c->fd);  // also leaves the epoll set
        delete c;
      }
    }
  }
  close(ep);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("kvfloor: a fixed-response epoll loop, the cost floor for kvd's benchmarks");
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, [](int) { g_stop = true; });
  signal(SIGINT, [](int) { g_stop = true; });
  signal(SIGUSR1, [](int) { g_report = true; });
  int threads = std::max(1, absl::GetFlag(FLAGS_threads));
  std::string addr = absl::GetFlag(FLAGS_bind);
  // The first listener fixes the port (port 0 picks one); the others join it with SO_REUSEPORT.
  std::vector<int> listeners{Listen(addr, absl::GetFlag(FLAGS_port))};
  int port = BoundPort(listeners[0]);
  for (int t = 1; t < threads; ++t) listeners.push_back(Listen(addr, port));
  const bool resp = absl::GetFlag(FLAGS_resp);
  std::printf("kvfloor: %d thread(s), %s, Starting server on %d\n", threads, resp ? "RESP" : "HTTP", port);
  std::fflush(stdout);
  std::vector<std::atomic<uint64_t>> answered(threads);
  std::vector<std::thread> loops;
  for (int t = 0; t < threads; ++t) loops.emplace_back(Loop, listeners[t], resp, &answered[t]);
  while (!g_stop) {
    usleep(20000);
    if (g_report.exchange(false)) {
      uint64_t total = 0;
      for (auto& a : answered) total += a.load(std::memory_order_relaxed);
      std::printf("answered %llu\n", static_cast<unsigned long long>(total));
      std::fflush(stdout);
    }
  }
  for (auto& l : loops) l.join();
  return 0;
}

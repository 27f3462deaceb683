// Fuzz harness for kvd's whole request path: bytes → net::Connection (the real class, on one end
// of a socketpair) → RequestParser (llhttp) → Router → Store → response bytes read back from the
// other end. Header-only so that both the libFuzzer target (fuzz/connection_fuzz.cc, built by
// mk/fuzz.mk with clang) and the doctest replay of the corpus (fuzz/fuzz_replay_test.cc, in
// the normal g++ unit binary) run the very same checks.
//
// No reactor thread runs. The harness builds a net::Reactor (for the objects a Connection uses:
// limits, router, metrics, read buffer, Date cache) and plays its event loop by hand: it
// registers the connection in the reactor's own epoll instance exactly as Reactor::Accept does,
// so the interest the connection sets (EPOLLIN/EPOLLOUT via Reactor::SetEvents) is what the
// harness waits on, and it dispatches events the way Reactor::Run does.
//
// Input layout: byte 0 picks options (below), bytes 1..3 seed the PRNG that cuts the rest into
// the pieces the client writes (and, in "slow reader" mode, how much of the output it reads at a
// time); the rest is what the client sends. After the last piece the client half-closes.
//
// Checks (any failure is returned as a message; the fuzz target aborts on it):
//  - every response is well-formed HTTP/1.1: status line, Date, Content-Type, exactly one
//    Content-Length (none on 1xx/204/304; no Content-Type on a 304, which has an ETag) matching the
//    body (none for HEAD), an ETag on every hit and stored write, `Connection: close`
//    only on the last one; and what RFC 9110 asks of some statuses: Allow on a 405 and on a 501
//    (kvd's choice), WWW-Authenticate on a 401, Allow and no content on the 200 to OPTIONS, and
//    a request the parser refused (Request::reject_status) answered with exactly that status;
//  - exactly one final response per complete request, in order, identical (Date aside, the
//    body of /metrics, the wording of a fatal error, and its status when a size limit was one of
//    two limits broken at once; see SameFatalError) to the answers a reference run produces: a
//    fresh parser fed the whole
//    input in one piece, whose requests go straight to Router::Handle as Connection::OnRequest
//    does. So splitting, output backpressure (pause/resume), partial writes and the lingering
//    close never change what a client sees;
//  - nothing follows the last response, the server side closes, its descriptor is closed, no
//    request is left counted in flight, and the request counters match the responses;
//  - no hang: the emulated loop must finish within a bounded number of steps.
// Crashes, leaks and undefined behaviour are ASan/UBSan/LeakSanitizer's to report.
//
// Not covered here (see docs/robustness.md): time (the reactor clock stays at 0, so idle/header
// timeouts and expiry are not driven; they have unit and integration tests), accept/EMFILE
// handling, several reactors, and graceful shutdown.
#pragma once

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "harness_common.h"
#include "http/parser.h"
#include "http/response.h"
#include "http/uri.h"
#include "metrics/metrics.h"
#include "http/connection.h"
#include "net/reactor.h"
#include "http/router.h"
#include "store/store.h"
#include "util/buffer.h"

namespace kvd::fuzz {

struct ConnOptions {
  size_t max_piece = 1;        // client write sizes are 1..max_piece
  bool small_output = false;   // --max-output-bytes tiny: pause/resume after every response
  bool slow_reader = false;    // small socket buffer, client reads a little at a time
  bool miss_404 = false;
  bool auth = false;
  bool small_limits = false;   // tiny header/value/key/memory limits, so they are reachable
  bool more_shards = false;

  static ConnOptions FromByte(uint8_t b) {
    static constexpr size_t kPieces[4] = {3, 16, 256, size_t(1) << 20};
    ConnOptions o;
    o.max_piece = kPieces[b & 3];
    o.small_output = b & 4;
    o.slow_reader = b & 8;
    o.miss_404 = b & 16;
    o.auth = b & 32;
    o.small_limits = b & 64;
    o.more_shards = b & 128;
    return o;
  }
};

inline Config FuzzConfig(const ConnOptions& o) {
  Config c;
  c.threads = 1;
  c.shards = o.more_shards ? 3 : 1;
  c.ttl_ms = 10000;
  // Small limits: below a shard's minimum, so every write is refused (507); else room for what an
  // input can write (eviction needs segments' worth, which inputs of a few KiB cannot reach: the
  // store's own tests cover it).
  c.max_memory = o.small_limits ? (16 << 10) : c.shards * 2 * store::Shard::MinLimit();
  c.miss_status = o.miss_404 ? 404 : 200;
  if (o.small_output) c.max_output_bytes = 200;
  if (o.small_limits) {
    c.max_header_bytes = 200;
    c.max_value_bytes = 100;
    c.max_key_bytes = 16;
  }
  if (o.auth) {
    c.auth_token = "s3cret";
    c.auth_metrics = o.more_shards;
  }
  return c;
}

// What a client must see for one final response, from the reference run.
struct Expect {
  bool head = false;     // answer to HEAD: no body
  bool metrics = false;  // /metrics: the body (and its length) differs between runs
  bool fatal = false;    // the parser's error answer: status and close must match, but the
                         // one-line reason may name whichever check fired first, which can
                         // depend on where the input was split (llhttp's or kvd's)
  bool options = false;  // answer to OPTIONS
  int reject = 0;        // the request's reject_status: the answer must be exactly that
  bool key_read = false;   // GET or HEAD of a key: a hit (a 200 with content) carries an ETag
  bool key_write = false;  // POST or PUT of a key: a stored write (200, 201) carries an ETag
};

// One parsed response.
struct Parsed {
  int status = 0;
  std::string head;  // status line and headers, without the Date line (and, for /metrics, the
                     // Content-Length line)
  std::string body;
  bool close = false;
};

inline bool IsTokenChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

// Parses the response at s[*pos]. "" on success, else what is wrong with it.
inline std::string ParseResponse(std::string_view s, size_t* pos, const Expect& e, Parsed* r) {
  size_t end = s.find("\r\n\r\n", *pos);
  if (end == std::string_view::npos) return "incomplete response head";
  std::string_view head = s.substr(*pos, end + 2 - *pos);  // each line ends in \r\n
  *pos = end + 4;
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  if (line.size() < 13 || line.substr(0, 9) != "HTTP/1.1 " || line[12] != ' ' ||
      line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' || line[11] < '0' ||
      line[11] > '9') {
    return "malformed status line: " + std::string(line);
  }
  for (unsigned char c : line.substr(13)) {
    if (c < 0x20 || c == 0x7f) return "control byte in the reason phrase";
  }
  r->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  r->head.assign(line);
  r->head += "\r\n";
  r->close = false;
  int dates = 0, types = 0, lengths = 0;
  uint64_t length = 0;
  size_t at = eol + 2;
  while (at < head.size()) {
    size_t next = head.find("\r\n", at);
    std::string_view h = head.substr(at, next - at);
    at = next + 2;
    size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 >= h.size() || h[colon + 1] != ' ') {
      return "malformed header line: " + std::string(h);
    }
    for (unsigned char c : h.substr(0, colon)) {
      if (!IsTokenChar(c)) return "header name is not a token: " + std::string(h);
    }
    for (unsigned char c : h.substr(colon + 2)) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) return "control byte in a header value";
    }
    std::string_view name = h.substr(0, colon), value = h.substr(colon + 2);
    if (name == "Date") {
      ++dates;
      continue;
    }
    if (name == "Content-Type") ++types;
    if (name == "Connection") {
      if (value != "close") return "unexpected Connection header: " + std::string(value);
      r->close = true;
    }
    if (name == "Content-Length") {
      ++lengths;
      if (value.empty() || value.size() > 12) return "bad Content-Length";
      length = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return "bad Content-Length";
        length = length * 10 + uint64_t(c - '0');
      }
      if (e.metrics || e.fatal) continue;
    }
    r->head.append(h);
    r->head += "\r\n";
  }
  r->body.clear();
  if (r->status < 200) {
    if (lengths || dates || types) return "headers on an interim response";
    return "";
  }
  auto has = [&head](std::string_view name) { return head.find(std::string("\r\n") + std::string(name) + ": ") != std::string_view::npos; };
  if ((r->status == 405 || r->status == 501) && !e.fatal && !has("Allow")) return "405 or 501 without Allow";
  if (r->status == 401 && !has("WWW-Authenticate")) return "401 without WWW-Authenticate";
  if (e.reject != 0 && r->status != e.reject) return "a refused request not answered with its status";
  if (e.options && r->status == 200 && (!has("Allow") || length != 0)) return "200 to OPTIONS without Allow, or with content";
  if (r->status == 304) {
    if (dates != 1 || types || lengths) return "a 304 without Date, or with Content-Type or Content-Length";
    return has("ETag") ? "" : "304 without ETag";
  }
  if (dates != 1 || types != 1) return "not exactly one Date and one Content-Type";
  if (((e.key_write && (r->status == 200 || r->status == 201)) ||
       (e.key_read && r->status == 200 && length > 0)) && !has("ETag")) {
    return "a value's answer without ETag";
  }
  if (r->status == 204) return lengths ? "Content-Length on a 204" : "";
  if (lengths != 1) return "not exactly one Content-Length";
  if (e.head) return "";
  if (s.size() - *pos < length) return "body shorter than its Content-Length";
  r->body.assign(s.substr(*pos, length));
  *pos += length;
  return "";
}

// Parses a whole output stream. `finals` gets the final (non-1xx) responses; interims are kept in
// `all` too, in place.
inline std::string ParseStream(std::string_view s, const std::vector<Expect>& expect,
                               std::vector<Parsed>* all, size_t* finals) {
  size_t pos = 0;
  *finals = 0;
  while (pos < s.size()) {
    if (*finals >= expect.size()) {
      // A request whose headers asked for 100-continue but whose body never came ends the
      // stream with its interim response and nothing after it.
      if (s.substr(pos) == http::k100Continue) {
        Parsed interim;
        interim.status = 100;
        interim.head = "HTTP/1.1 100 Continue\r\n";
        all->push_back(std::move(interim));
        break;
      }
      return "bytes after the last expected response: " + std::string(s.substr(pos, 80));
    }
    Parsed p;
    std::string err = ParseResponse(s, &pos, expect[*finals], &p);
    if (!err.empty()) return err + " (response " + std::to_string(*finals) + ")";
    if (p.status >= 200) ++*finals;
    all->push_back(std::move(p));
  }
  return "";
}

// The reference: the whole input to a fresh parser in one call, each request straight to
// Router::Handle with the context Connection::OnRequest builds, errors answered as
// Connection::Process answers them.
class ReferenceSink final : public http::RequestSink {
 public:
  ReferenceSink(const http::Router* router, std::vector<Expect>* expect) : router_(router), expect_(expect) {}
  bool OnRequest(http::Request& req) override {
    http::Router::Context ctx{0, &out, &date, &metrics, &scratch, !req.keep_alive};
    router_->Handle(req, ctx);
    http::Target t = http::SplitTarget(req.target);
    const bool key = t.path.size() > 1 && t.path[0] == '/' && t.path != "/metrics" &&
                     t.path != "/size" && t.path != "/healthz";
    const http::Method m = req.method;
    expect_->push_back({m == http::Method::kHead, t.path == "/metrics" && req.reject_status == 0, false,
                        m == http::Method::kOptions, req.reject_status,
                        key && (m == http::Method::kGet || m == http::Method::kHead),
                        key && (m == http::Method::kPost || m == http::Method::kPut)});
    if (!req.keep_alive) {
      stopped = true;
      return false;
    }
    return true;
  }
  void OnContinue() override { out.Append(http::k100Continue); }

  Buffer out;
  http::DateCache date;
  metrics::ReactorMetrics metrics;
  std::string scratch;
  bool stopped = false;

 private:
  const http::Router* router_;
  std::vector<Expect>* expect_;
};

// Two answers to the same fatal error may differ in status when the request broke two limits at
// once and a size limit (413, 414, 431) was among them: each limit is checked per piece of input,
// so which one a piece crosses first can depend on where the input was split. Everything else
// (400 vs 505, say) must match.
inline bool SameFatalError(const Parsed& a, const Parsed& b) {
  auto size_limit = [](int s) { return s == 413 || s == 414 || s == 431; };
  if (!a.close || !b.close || a.status < 400 || b.status < 400) return false;
  if (!size_limit(a.status) && !size_limit(b.status)) return false;
  size_t ea = a.head.find("\r\n"), eb = b.head.find("\r\n");
  return a.head.substr(ea) == b.head.substr(eb);  // the same headers after the status line
}

// Runs one input. "" when every check passes, else a description of the failure.
inline std::string RunConnectionCase(const uint8_t* data, size_t size) {
  if (size < 4) return "";
  const ConnOptions opt = ConnOptions::FromByte(data[0]);
  SplitRng rng{uint64_t(data[1]) | uint64_t(data[2]) << 8 | uint64_t(data[3]) << 16};
  const char* in = reinterpret_cast<const char*>(data + 4);
  const size_t n = size - 4;
  const Config cfg = FuzzConfig(opt);

  // -- reference run --
  std::vector<Expect> expect;
  std::string ref_out;
  size_t ref_errors = 0;
  store::Store ref_store(cfg.shards, cfg.max_memory, 0);
  {
    std::vector<const metrics::ReactorMetrics*> ref_rm;
    http::Router ref_router(&cfg, &ref_store, &ref_rm);
    ReferenceSink sink(&ref_router, &expect);
    ref_rm.push_back(&sink.metrics);
    http::Limits limits;
    limits.max_header_bytes = cfg.max_header_bytes;
    limits.max_body_bytes = cfg.max_value_bytes;
    http::RequestParser parser(&limits, &sink);
    http::RequestParser::Result r = parser.Feed(in, n);
    if (r.status == http::RequestParser::Status::kPaused && !sink.stopped) {
      return "reference parser paused without a reason";
    }
    if (r.status == http::RequestParser::Status::kError) {
      http::Head head;
      head.status = parser.error_status();
      head.close = true;
      http::AppendResponse(&sink.out, sink.date, head, parser.error_message());
      expect.push_back({false, false, true});
      ref_errors = 1;
    }
    ref_out.assign(sink.out.view());
  }

  // -- the real connection --
  store::Store store(cfg.shards, cfg.max_memory, 0);
  std::vector<const metrics::ReactorMetrics*> rm;
  http::Router router(&cfg, &store, &rm);
  std::atomic<size_t> open_connections{0};
  // The reactor's constructor creates its epoll instance first: that fd is the lowest free one.
  const int epfd = NextFd();
  net::Reactor::Options options;
  options.max_connections = cfg.max_connections;
  options.open_connections = &open_connections;
  net::Reactor reactor(0, options);
  http::ConnectionFactory factory(&cfg, &router, &reactor);
  rm.push_back(&reactor.metrics());
  if (!IsEpollFd(epfd)) return "harness: could not find the reactor's epoll fd (Reactor changed?)";

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
    return std::string("harness: socketpair: ") + std::strerror(errno);
  }
  const int server_fd = sv[0], client_fd = sv[1];
  if (opt.slow_reader) {
    int small = 4096;  // the kernel doubles it; responses larger than that need EPOLLOUT
    ::setsockopt(server_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  }
  net::Connection* conn = factory.Accept(server_fd, &reactor);
  {
    epoll_event ev{};  // as Reactor::Accept registers a new connection
    ev.events = EPOLLIN;
    ev.data.ptr = conn;
    if (::epoll_ctl(epfd, EPOLL_CTL_ADD, server_fd, &ev) != 0) {
      delete conn;
      ::close(client_fd);
      return std::string("harness: epoll_ctl: ") + std::strerror(errno);
    }
  }

  std::string out;  // what the client received
  size_t sent = 0, piece_left = rng.Range(1, opt.max_piece);
  bool client_shut = false, client_eof = false, conn_done = false;
  std::string failure;
  const size_t max_steps = 20 * n + 10000;
  char rbuf[16384];
  for (size_t step = 0;; ++step) {
    if (step > max_steps) {
      failure = "no progress: the connection neither answered nor closed (hang)";
      break;
    }
    bool progress = false;
    // 1. The client sends its next piece, or half-closes once everything is sent.
    if (sent < n) {
      ssize_t w = ::send(client_fd, in + sent, std::min(piece_left, n - sent), MSG_NOSIGNAL);
      if (w > 0) {
        sent += size_t(w);
        piece_left -= size_t(w);
        if (piece_left == 0) piece_left = rng.Range(1, opt.max_piece);
        progress = true;
      } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        sent = n;  // the server closed; the rest cannot be sent
      }
    } else if (!client_shut) {
      ::shutdown(client_fd, SHUT_WR);
      client_shut = true;
      progress = true;
    }
    // 2. One turn of the reactor loop for this connection.
    if (!conn_done) {
      epoll_event ev{};
      int k = ::epoll_wait(epfd, &ev, 1, 0);
      if (k == 1) {
        if (ev.data.ptr != conn) {
          failure = "harness: unexpected epoll event";
          break;
        }
        uint32_t e = ev.events;
        bool ok = true;
        if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) ok = conn->OnReadable();
        if (ok && (e & EPOLLOUT)) ok = conn->OnWritable();
        if (ok && (e & EPOLLERR)) ok = false;
        if (!ok) {
          delete conn;  // Reactor::Close, then the end of the loop iteration
          conn = nullptr;
          conn_done = true;
          if (::fcntl(server_fd, F_GETFD) != -1 || errno != EBADF) {
            failure = "the server-side descriptor is still open after the connection ended";
            break;
          }
        }
        progress = true;
      }
    }
    // 3. The client reads: everything there is, or (slow reader) a little, unless stuck.
    if (!client_eof) {
      size_t want = sizeof rbuf;
      if (opt.slow_reader && progress) want = rng.Range(0, 64);
      while (want > 0) {
        ssize_t r = ::recv(client_fd, rbuf, std::min(want, sizeof rbuf), 0);
        if (r > 0) {
          out.append(rbuf, size_t(r));
          want -= size_t(r);
          progress = true;
          if (opt.slow_reader) break;
          continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          client_eof = true;  // FIN or reset
          progress = true;
        }
        break;
      }
    }
    if (conn_done && client_eof) break;
  }
  if (conn) delete conn;
  ::close(client_fd);
  if (!failure.empty()) return failure;

  // -- compare --
  std::vector<Parsed> got, want;
  size_t got_finals = 0, want_finals = 0;
  std::string err = ParseStream(ref_out, expect, &want, &want_finals);
  if (!err.empty()) return "reference output: " + err;
  if (want_finals != expect.size()) return "reference: responses and requests differ in number";
  err = ParseStream(out, expect, &got, &got_finals);
  if (!err.empty()) return "connection output: " + err;
  if (got_finals != want_finals) {
    return "expected " + std::to_string(want_finals) + " responses, got " + std::to_string(got_finals);
  }
  if (got.size() != want.size()) return "different number of 100 Continue responses";
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i].head != want[i].head && !SameFatalError(got[i], want[i])) {
      return "response " + std::to_string(i) + " differs:\n--- got ---\n" + got[i].head +
             "--- want ---\n" + want[i].head;
    }
    size_t final_index = 0;
    for (size_t j = 0; j < i; ++j) final_index += got[j].status >= 200;
    bool any_body = final_index < expect.size() && (expect[final_index].metrics || expect[final_index].fatal);
    if (!any_body && got[i].body != want[i].body) {
      return "response " + std::to_string(i) + " body differs";
    }
    if (got[i].close && i + 1 != got.size()) return "Connection: close before the last response";
  }
  const metrics::ReactorMetrics& m = reactor.metrics();
  const http::RequestStats& stats = factory.stats();
  uint64_t counted = 0;
  for (const auto& per_method : stats.requests) {
    for (const auto& c : per_method) counted += c.Get();
  }
  if (counted != got_finals || m.requests.Get() != got_finals) {
    return "request counters disagree with the responses sent";
  }
  if (stats.in_flight.Get() != 0) return "requests still counted in flight after the close";
  if (m.connections[size_t(metrics::Protocol::kHttp)].closed_bad_input.Get() != ref_errors) {
    return "bad-input close not counted once";
  }
  // The same operations in the same order leave the same keyspace.
  store::ShardStats a = store.Stats(0), b = ref_store.Stats(0);
  if (a.keys != b.keys || a.bytes_used != b.bytes_used || a.bytes_held != b.bytes_held ||
      a.evicted_small != b.evicted_small || a.evicted_main != b.evicted_main) {
    return "the store differs from the reference run's";
  }
  return "";
}

}  // namespace kvd::fuzz

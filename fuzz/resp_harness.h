// Fuzz harness for kvd's RESP path: bytes → resp::Connection (the real class, made by a
// resp::ConnectionFactory's Accept on one end of a socketpair) → resp::RequestParser →
// resp::Commands → Store → reply bytes read back from the other end. Header-only so that the
// libFuzzer target (fuzz/resp_fuzz.cc, built by mk/fuzz.mk with clang) and the doctest replay of
// the corpus (fuzz/fuzz_replay_test.cc, in the normal g++ unit binary) run the very same checks.
//
// As in connection_harness.h no reactor thread runs: the harness builds a net::Reactor for what a
// connection uses (metrics, read buffer, clock) and plays its event loop by hand on the reactor's
// own epoll instance, so the interest the connection sets is what the harness waits on.
//
// Input layout: byte 0 picks options (RespOptions), bytes 1..3 seed the PRNG that cuts the rest
// into the pieces the client writes (and, for a slow reader, how much it reads at a time); the
// rest is what the client sends. After the last piece the client half-closes.
//
// Checks (a failure is returned as a message; the fuzz target aborts on it):
//  - every reply is well-formed RESP2: simple strings and errors without CR or LF, errors that
//    start with an upper-case code, integers in the signed 64-bit range without leading zeros,
//    bulk strings whose length matches, arrays of well-formed values;
//  - the replies equal, byte for byte (INFO's body excepted: its figures are the process's, so
//    only its lines' names are compared), those of a reference run: a fresh RequestParser fed the
//    whole input in one piece, each command going straight to Commands::Handle, a protocol error
//    answered with AppendError, as resp::Connection does. So splitting, output backpressure
//    (pause and resume), partial writes and the lingering close never change what a client sees;
//  - nothing follows the +OK of a QUIT or the reply to a protocol error, the server side closes,
//    its descriptor is closed, the per-command counters and the keyspace match the reference's,
//    and a protocol error is counted as one bad-input close;
//  - no hang: the emulated loop must finish within a bounded number of steps.
// Crashes, leaks and undefined behaviour are ASan/UBSan/LeakSanitizer's to report.
//
// Not covered here: time (the reactor clock stays at 0: expiry and the partial-command and idle
// timeouts have unit and integration tests), several reactors, shutdown.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "harness_common.h"
#include "metrics/metrics.h"
#include "net/reactor.h"
#include "resp/commands.h"
#include "resp/connection.h"
#include "resp/parser.h"
#include "resp/reply.h"
#include "store/store.h"
#include "util/buffer.h"

namespace kvd::fuzz {

struct RespOptions {
  size_t max_piece = 1;       // client write sizes are 1..max_piece
  bool small_output = false;  // --max-output-bytes tiny: a pause after nearly every reply
  bool slow_reader = false;   // small socket buffer, the client reads a little at a time
  bool auth = false;          // --auth-token: NOAUTH, AUTH, HELLO AUTH, the pre-auth limits
  bool small_limits = false;  // tiny key and value limits, so they (and the parser's bulk and
                              // command limits, derived from them) are reachable
  bool no_memory = false;     // a budget below a shard's minimum: every write is refused (OOM)
  bool more_shards = false;

  static RespOptions FromByte(uint8_t b) {
    static constexpr size_t kPieces[4] = {3, 16, 256, size_t(1) << 20};
    RespOptions o;
    o.max_piece = kPieces[b & 3];
    o.small_output = b & 4;
    o.slow_reader = b & 8;
    o.auth = b & 16;
    o.small_limits = b & 32;
    o.no_memory = b & 64;
    o.more_shards = b & 128;
    return o;
  }
};

inline Config RespFuzzConfig(const RespOptions& o) {
  Config c;
  c.threads = 1;
  c.shards = o.more_shards ? 3 : 1;
  c.ttl_ms = 10000;
  c.max_memory = o.no_memory ? (16 << 10) : c.shards * 2 * store::Shard::MinLimit();
  if (o.small_output) c.max_output_bytes = 64;
  if (o.small_limits) {
    c.max_value_bytes = 64;
    c.max_key_bytes = 8;
  }
  if (o.auth) c.auth_token = "s3cret";
  return c;
}

// The parser limits resp::ConnectionFactory derives from the config (its constructor; they are
// private there). Should the two drift apart, the reference run answers differently and the
// harness says so.
inline resp::Limits RespParserLimits(const Config& c) {
  resp::Limits l;
  l.max_bulk_bytes = std::max(c.max_value_bytes, c.max_key_bytes) + 1024;
  l.max_command_bytes = std::max<size_t>(c.max_output_bytes, 2 * l.max_bulk_bytes + 4096);
  l.max_args = l.max_command_bytes / resp::RequestParser::kArgOverhead;
  return l;
}

// What the reference run says of one reply.
struct RespExpect {
  bool info = false;   // INFO's answer: a bulk string whose figures differ between runs
  bool quit = false;   // QUIT's +OK: the last reply
  bool error = false;  // a protocol error's reply: the last one
};

// Checks the RESP2 value at s[*pos] and moves *pos past it. "" when well-formed, else what is
// wrong. `depth` bounds the nesting of arrays (kvd's deepest, COMMAND's, is 5).
inline std::string CheckReply(std::string_view s, size_t* pos, int depth = 0) {
  if (depth > 16) return "arrays nested deeper than 16";
  if (*pos >= s.size()) return "incomplete reply";
  const char type = s[*pos];
  const size_t eol = s.find("\r\n", *pos);
  if (eol == std::string_view::npos) return "reply line without CRLF";
  const std::string_view line = s.substr(*pos + 1, eol - *pos - 1);
  if (line.find_first_of("\r\n") != std::string_view::npos) return "CR or LF inside a reply line";
  *pos = eol + 2;
  // An integer as Redis writes one: "0", or an optional '-' and digits without a leading zero.
  auto integer = [](std::string_view t, int64_t* v) {
    if (t == "0") {
      *v = 0;
      return true;
    }
    const bool neg = !t.empty() && t[0] == '-';
    std::string_view d = t.substr(neg ? 1 : 0);
    if (d.empty() || d.size() > 19 || d[0] < '1' || d[0] > '9') return false;
    uint64_t u = 0;
    for (char c : d) {
      if (c < '0' || c > '9') return false;
      u = u * 10 + uint64_t(c - '0');
    }
    if (u > uint64_t(INT64_MAX) + (neg ? 1 : 0)) return false;
    *v = neg ? int64_t(0 - u) : int64_t(u);
    return true;
  };
  switch (type) {
    case '+':
      return "";
    case '-': {
      // "CODE message": the code is what clients dispatch on (ERR, NOAUTH, WRONGPASS, OOM, ...).
      size_t i = 0;
      while (i < line.size() && line[i] >= 'A' && line[i] <= 'Z') ++i;
      if (i == 0 || (i < line.size() && line[i] != ' ')) return "error reply without a code: " + std::string(line.substr(0, 60));
      return "";
    }
    case ':': {
      int64_t v;
      return integer(line, &v) ? "" : "malformed integer reply: " + std::string(line.substr(0, 30));
    }
    case '$': {
      int64_t n;
      if (!integer(line, &n) || n < -1) return "malformed bulk length: " + std::string(line.substr(0, 30));
      if (n == -1) return "";
      if (s.size() - *pos < uint64_t(n) + 2) return "bulk string shorter than its length";
      if (s.substr(*pos + size_t(n), 2) != "\r\n") return "bulk string not followed by CRLF";
      *pos += size_t(n) + 2;
      return "";
    }
    case '*': {
      int64_t n;
      if (!integer(line, &n) || n < -1) return "malformed array length: " + std::string(line.substr(0, 30));
      for (int64_t i = 0; i < n; ++i) {
        std::string err = CheckReply(s, pos, depth + 1);
        if (!err.empty()) return err + " (in an array)";
      }
      return "";
    }
    default:
      return std::string("reply of unknown type '") + type + "'";
  }
}

// Splits a stream into its replies, checking each.
inline std::string SplitReplies(std::string_view s, std::vector<std::string_view>* replies) {
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t start = pos;
    std::string err = CheckReply(s, &pos);
    if (!err.empty()) return err + " (reply " + std::to_string(replies->size()) + ")";
    replies->push_back(s.substr(start, pos - start));
  }
  return "";
}

// INFO's text as its sequence of line names ("# Server", "redis_version", ...), after checking
// each line is a section title or name:value: what two runs of the same commands share.
inline std::string InfoNames(std::string_view reply, std::vector<std::string>* names) {
  if (reply.empty() || reply[0] != '$') return "INFO's answer is not a bulk string";
  std::string_view body = reply.substr(reply.find("\r\n") + 2);
  body.remove_suffix(2);
  while (!body.empty()) {
    size_t eol = body.find("\r\n");
    if (eol == std::string_view::npos) return "an INFO line without CRLF";
    std::string_view line = body.substr(0, eol);
    body.remove_prefix(eol + 2);
    if (line.empty()) continue;  // between sections
    if (line[0] == '#') {
      names->emplace_back(line);
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return "an INFO line that is not name:value: " + std::string(line);
    names->emplace_back(line.substr(0, colon));
  }
  return "";
}

// The reference: commands straight from a parser fed the whole input to Commands::Handle, with
// the context, session and authentication rule resp::Connection::OnCommand uses.
class RespReferenceSink final : public resp::CommandSink {
 public:
  RespReferenceSink(const resp::Commands* commands, std::vector<RespExpect>* expect)
      : commands_(commands), expect_(expect) {
    session.id = 1;  // the first of the process-wide counter, as the factory gives it
  }
  bool OnCommand(resp::Args args) override {
    resp::Commands::Context ctx{0, &out, &metrics, &stats, &scratch, &session};
    resp::Commands::Outcome o = commands_->Handle(args, ctx);
    RespExpect e;
    e.info = o.cmd == resp::Cmd::kInfo && o.result != resp::Commands::Result::kError;
    e.quit = session.quit;
    expect_->push_back(e);
    if (session.quit) return false;
    parser->set_unauthenticated(commands_->AuthRequired(session));
    return true;
  }

  resp::RequestParser* parser = nullptr;
  Buffer out;
  metrics::ReactorMetrics metrics;
  resp::CommandStats stats;
  std::string scratch;
  resp::Session session;

 private:
  const resp::Commands* commands_;
  std::vector<RespExpect>* expect_;
};

inline bool SameStats(const resp::CommandStats& a, const resp::CommandStats& b) {
  for (size_t i = 0; i < size_t(resp::Cmd::kCount); ++i) {
    if (a.calls[i].Get() != b.calls[i].Get() || a.rejected[i].Get() != b.rejected[i].Get() ||
        a.failed[i].Get() != b.failed[i].Get()) {
      return false;
    }
  }
  return true;
}

// Runs one input. "" when every check passes, else a description of the failure.
inline std::string RunRespCase(const uint8_t* data, size_t size) {
  if (size < 4) return "";
  const RespOptions opt = RespOptions::FromByte(data[0]);
  SplitRng rng{uint64_t(data[1]) | uint64_t(data[2]) << 8 | uint64_t(data[3]) << 16};
  const char* in = reinterpret_cast<const char*>(data + 4);
  const size_t n = size - 4;
  const Config cfg = RespFuzzConfig(opt);
  const resp::Limits limits = RespParserLimits(cfg);

  // -- reference run --
  std::vector<RespExpect> expect;
  store::Store ref_store(cfg.shards, cfg.max_memory, 0);
  std::vector<const metrics::ReactorMetrics*> ref_rm;
  std::vector<const resp::CommandStats*> ref_cs;
  resp::Commands ref_commands(&cfg, &ref_store, &ref_rm, &ref_cs, {0, 0});
  RespReferenceSink ref(&ref_commands, &expect);
  ref_rm.push_back(&ref.metrics);
  ref_cs.push_back(&ref.stats);
  resp::RequestParser ref_parser(&limits, &ref);
  ref.parser = &ref_parser;
  ref_parser.set_unauthenticated(ref_commands.AuthRequired(ref.session));
  const resp::RequestParser::Result ref_result = ref_parser.Feed(in, n);
  if (ref_result.status == resp::RequestParser::Status::kPaused && !ref.session.quit) {
    return "reference parser paused without a QUIT";
  }
  const bool ref_error = ref_result.status == resp::RequestParser::Status::kError;
  if (ref_error) {
    resp::AppendError(&ref.out, ref_parser.error());
    RespExpect e;
    e.error = true;
    expect.push_back(e);
  }
  const std::string_view ref_out = ref.out.view();

  // -- the real connection --
  store::Store store(cfg.shards, cfg.max_memory, 0);
  std::vector<const metrics::ReactorMetrics*> rm;
  std::vector<const resp::CommandStats*> cs;
  resp::Commands commands(&cfg, &store, &rm, &cs, {0, 0});
  std::atomic<size_t> open_connections{0};
  std::atomic<uint64_t> next_session_id{0};
  // The reactor's constructor creates its epoll instance first: that fd is the lowest free one.
  const int epfd = NextFd();
  net::Reactor::Options options;
  options.max_connections = cfg.max_connections;
  options.open_connections = &open_connections;
  net::Reactor reactor(0, options);
  if (!IsEpollFd(epfd)) return "harness: could not find the reactor's epoll fd (Reactor changed?)";
  resp::ConnectionFactory factory(&cfg, &commands, &next_session_id);
  rm.push_back(&reactor.metrics());
  cs.push_back(&factory.stats());

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
    return std::string("harness: socketpair: ") + std::strerror(errno);
  }
  const int server_fd = sv[0], client_fd = sv[1];
  if (opt.slow_reader) {
    int small = 4096;  // replies larger than the socket buffer need EPOLLOUT
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
    // 3. The client reads: everything there is, or (slow reader) a little.
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
  std::vector<std::string_view> got, want;
  std::string err = SplitReplies(ref_out, &want);
  if (!err.empty()) return "reference output: " + err;
  if (want.size() != expect.size()) return "reference: replies and commands differ in number";
  err = SplitReplies(out, &got);
  if (!err.empty()) return "connection output: " + err;
  const bool ends_closing = !expect.empty() && (expect.back().quit || expect.back().error);
  if (got.size() > want.size() && ends_closing) {
    return std::string("a reply after ") + (expect.back().quit ? "QUIT's +OK" : "a protocol error's reply");
  }
  if (got.size() != want.size()) {
    return "expected " + std::to_string(want.size()) + " replies, got " + std::to_string(got.size());
  }
  for (size_t i = 0; i < got.size(); ++i) {
    if (expect[i].info) {
      std::vector<std::string> a, b;
      err = InfoNames(got[i], &a);
      if (!err.empty()) return "reply " + std::to_string(i) + ": " + err;
      err = InfoNames(want[i], &b);
      if (!err.empty()) return "reference reply " + std::to_string(i) + ": " + err;
      if (a != b) return "reply " + std::to_string(i) + ": INFO's lines differ from the reference's";
      continue;
    }
    if (got[i] != want[i]) {
      return "reply " + std::to_string(i) + " differs:\n--- got ---\n" + std::string(got[i].substr(0, 300)) +
             "\n--- want ---\n" + std::string(want[i].substr(0, 300));
    }
  }
  if (!expect.empty() && expect.back().quit && got.back() != "+OK\r\n") return "QUIT not answered +OK";
  if (ref_error && got.back().substr(0, 20) != "-ERR Protocol error:") {
    return "a protocol error not answered with one";
  }
  const metrics::ReactorMetrics& m = reactor.metrics();
  const metrics::ConnectionMetrics& c = m.connections[size_t(metrics::Protocol::kResp)];
  if (c.closed_bad_input.Get() != (ref_error ? 1u : 0u)) return "bad-input close not counted once";
  if (!SameStats(factory.stats(), ref.stats)) return "the command counters differ from the reference run's";
  // The same commands in the same order leave the same keyspace.
  store::ShardStats a = store.Stats(0), b = ref_store.Stats(0);
  if (a.keys != b.keys || a.bytes_used != b.bytes_used || a.bytes_held != b.bytes_held ||
      a.evicted_small != b.evicted_small || a.evicted_main != b.evicted_main) {
    return "the store differs from the reference run's";
  }
  return "";
}

}  // namespace kvd::fuzz

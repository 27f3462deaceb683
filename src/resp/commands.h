// Commands: runs one parsed RESP2 command against the shared store and appends its reply to the
// connection's output — the RESP twin of Router.
//
// The keyspace is the HTTP one: the RESP key `k` is the HTTP key `/k`, and both reach the store
// as the key's own bytes (store::HashedKey(key)). Keys are 1..Config::max_key_bytes bytes and
// values at most Config::max_value_bytes; anything else is an -ERR and nothing is stored. Every
// key expires: a write without an expiry takes Config::ttl_ms, expiries must be within
// 1 ms..store::kMaxTtlMs (24 days), PERSIST is refused and TTL never answers -1.
//
// Commands (Redis 7.0's syntax, replies and error strings, checked against redis-server 7.0.15;
// the unit tests say which): PING ECHO GET SET DEL UNLINK EXISTS EXPIRE PEXPIRE TTL PTTL PERSIST
// INCR INCRBY DECR DECRBY MGET MSET DBSIZE SELECT INFO COMMAND CONFIG HELLO CLIENT AUTH QUIT.
// Every command is described once, in a table (name, Redis's arity, flags, key positions, ACL
// categories, handler); dispatch, arity errors, COMMAND, COMMAND COUNT and COMMAND INFO are all
// derived from it. Names are case-insensitive. The checks run in Redis's order: the command
// exists, its arity, authentication (NOAUTH for everything but AUTH, HELLO and QUIT while a
// --auth-token is set and the session has not authenticated), then the command's own checks.
//
// What a connection must do (see Session and Handle):
//   - keep one Session per connection, with a process-unique id, and set
//     parser.set_unauthenticated(AuthRequired(session)) before feeding it anything;
//   - for each command the parser hands over: Handle(args, ctx); then, if session.quit, answer
//     nothing more (return false from the parser's sink and drop the rest of the input), send
//     the output and close (as Redis: commands pipelined after QUIT are not run); else call
//     parser.set_unauthenticated(AuthRequired(session)) again;
//   - on a parser error: AppendError(out, parser.error()), send, close;
//   - pause the parser (return false from the sink) once its output passes --max-output-bytes.
//
// Thread safety: a Commands is shared by all reactors and holds no mutable state; everything that
// belongs to the caller (its reactor's counters, the connection's output and session) comes in
// the per-call Context. MSET and multi-key DEL/EXISTS/MGET act key by key (each under its own
// shard's lock): they are not atomic across keys.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "metrics/metrics.h"
#include "resp/parser.h"
#include "store/store.h"
#include "util/buffer.h"

namespace kvd::resp {

// Which command a call was (subcommands count as their container: CLIENT SETNAME is kClient).
enum class Cmd : uint8_t {
  kUnknown,  // not a command: counted, never run
  kGet, kSet, kDel, kUnlink, kExists, kExpire, kPexpire, kTtl, kPttl, kPersist,
  kIncr, kIncrBy, kDecr, kDecrBy, kMget, kMset, kDbsize, kSelect, kPing, kEcho,
  kInfo, kCommand, kConfig, kHello, kClient, kAuth, kQuit,
  kCount
};
// Lower-case name ("get", ...; "unknown" for kUnknown).
std::string_view CmdName(Cmd c);

// One reactor's RESP counters: a single writer (its reactor, through Handle), read by INFO on
// any reactor (relaxed loads, as metrics::ReactorMetrics).
struct CommandStats {
  std::array<metrics::Counter, size_t(Cmd::kCount)> calls;     // run (including those that failed)
  std::array<metrics::Counter, size_t(Cmd::kCount)> rejected;  // refused before running: unknown
                                                               // name, arity, NOAUTH
  std::array<metrics::Counter, size_t(Cmd::kCount)> failed;    // ran and answered an error
};

// Appends the RESP command families to a /metrics exposition, summed over `stats` (every
// reactor's): kvd_resp_commands_total{command} (commands run) and
// kvd_resp_command_errors_total{command,kind} (kind: rejected before running — unknown, arity,
// NOAUTH — or failed: ran and answered an error).
void AppendMetrics(const std::vector<const CommandStats*>& stats, std::string* out);

// Per connection.
struct Session {
  uint64_t id = 0;             // CLIENT ID and HELLO's id: unique in the process, set by the caller
  std::string addr;            // the peer, "ip:port", for CLIENT INFO (may stay empty)
  std::string name;            // CLIENT SETNAME / HELLO SETNAME; empty: none
  bool authenticated = false;  // AUTH or HELLO AUTH succeeded (only consulted with --auth-token)
  bool quit = false;           // QUIT was answered: send the output, then close
};

class Commands {
 public:
  // Fixed facts about the server that INFO, HELLO and CONFIG GET report.
  struct Server {
    uint16_t tcp_port = 0;  // the RESP port
    uint64_t start_ms = 0;  // when kvd started, on the clock that Context::now_ms reads
  };

  // `reactors` and `stats` list every reactor's counters (for INFO); they must outlive this.
  Commands(const Config* config, store::Store* store,
           const std::vector<const metrics::ReactorMetrics*>* reactors,
           const std::vector<const CommandStats*>* stats, Server server);

  enum class Result : uint8_t {
    kOk,     // answered (a multi-key read counts its hits and misses itself)
    kHit,    // a single-key read found the key
    kMiss,   // ... did not
    kError,  // answered with an error (unknown, arity, NOAUTH, or the command's own)
  };
  struct Outcome {
    Cmd cmd;
    Result result;
  };
  struct Context {
    uint64_t now_ms;
    Buffer* out;
    metrics::ReactorMetrics* metrics;  // this reactor's: key hits and misses (shared with HTTP)
    CommandStats* stats;               // this reactor's
    std::string* scratch;              // reused: INFO's text, SET ... GET's old value, messages
    Session* session;
    const store::HashedKey* key = nullptr;  // from Prefetch, if it named one: not recomputed
  };

  // Runs args (args[0] the name; never empty, as the parser guarantees) and appends exactly one
  // reply to ctx.out. Counts the call in ctx.stats and key hits/misses in ctx.metrics.
  Outcome Handle(Args args, Context& ctx) const;

  // A hint that args will be handled soon: for a command whose first argument is a key, returns
  // that key hashed, with the store loading the table memory it will probe; else the empty key.
  // The views must stay valid until Handle (a borrowed command, with the read buffer kept). Handle
  // takes the key back through Context::key.
  store::HashedKey Prefetch(Args args) const;
  // Once a batch's keys are all known (each from Prefetch; empty ones are skipped): loads the
  // rest of what their lookups will read (Store::PrefetchBatch).
  void PrefetchBatch(const store::HashedKey* keys, size_t n) const { store_->PrefetchBatch(keys, n); }

  // Whether the session must still authenticate (--auth-token set, no AUTH yet).
  bool AuthRequired(const Session& s) const { return !config_->auth_token.empty() && !s.authenticated; }

  struct Spec;  // a command's table entry (commands.cc)

 private:
  friend struct Handlers;

  bool KeyOk(std::string_view k) const { return !k.empty() && k.size() <= max_key_; }
  // Answers an error, counting nothing (Handle counts).
  Outcome Error(Context& ctx, Cmd cmd, std::string_view message) const;

  const Config* config_;
  store::Store* store_;
  const std::vector<const metrics::ReactorMetrics*>* reactors_;
  const std::vector<const CommandStats*>* stats_;
  Server server_;
  size_t max_key_;    // Config::max_key_bytes, within what the store takes
  size_t max_value_;  // likewise Config::max_value_bytes
  std::string key_error_;    // the -ERR for a key outside 1..max_key_
  std::string value_error_;  // for a value over max_value_bytes
  std::string os_;           // INFO's os: uname's
  std::string run_id_;       // INFO's run_id: 40 random hex digits, fixed for the process
  int pid_;
  // CONFIG GET's parameters, name and value, in the order they are answered.
  std::vector<std::pair<std::string, std::string>> params_;
};

}  // namespace kvd::resp

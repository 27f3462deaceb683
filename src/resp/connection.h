// RESP connections: one client socket's commands through the RESP2 parser and the command
// handlers, on a net::StreamConnection (which does the socket, flow control and closing); and the
// factory that makes them for one reactor, with what they share there.
//
// Commands are answered as a batch, as HTTP requests are: each command that lies in the buffer just
// read is deferred as the parser completes it (up to 16), its key hashed and its table slot
// prefetched, and at the end of the read (or of 16) every deferred entry is prefetched, then the
// commands are run in order — all before the one write. A command the parser had to gather (it
// spanned reads), one before authentication (AUTH changes what the parser accepts next) and QUIT
// are run in turn instead, after those deferred. Deferred commands are never held past the read,
// so nothing is copied: once the output passes --max-output-bytes, parsing pauses after the batch
// (at most 16 answers beyond the limit). QUIT and protocol errors close the connection after their
// answer; whatever follows them is not run, as in Redis. A command that stops arriving
// mid-way (no byte of it for --header-timeout while its framing is incomplete) closes the
// connection, as slow HTTP headers do; payload bytes that keep coming keep it.
//
// Thread safety: a factory and its connections belong to one reactor thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.h"
#include "metrics/metrics.h"
#include "net/stream.h"
#include "resp/commands.h"
#include "resp/parser.h"

namespace kvd::resp {

class ConnectionFactory final : public net::ConnectionFactory {
 public:
  // `commands` must outlive the factory; `next_session_id` is shared by every factory (CLIENT ID
  // is unique in the process).
  ConnectionFactory(const Config* config, const Commands* commands, std::atomic<uint64_t>* next_session_id);

  net::Connection* Accept(int fd, net::Reactor* reactor) override;
  metrics::Protocol protocol() const override { return metrics::Protocol::kResp; }

  // This reactor's per-command counts, for INFO and /metrics.
  const CommandStats& stats() const { return stats_; }

 private:
  friend class Connection;
  const Config* config_;
  const Commands* commands_;
  std::atomic<uint64_t>* next_session_id_;
  Limits limits_;
  net::StreamConnection::Limits stream_limits_;
  CommandStats stats_;
  std::string scratch_;
};

class Connection final : public net::StreamConnection, public CommandSink {
 public:
  Connection(int fd, net::Reactor* reactor, ConnectionFactory* factory);

 private:
  FeedResult Feed(const char* data, size_t n) override;
  bool Resume() override;
  void OnFlushed() override;
  bool RequestStalled(uint64_t now_ms) const override;
  size_t HeldBytes() const override { return parser_.held_bytes() + session_.name.capacity(); }
  bool OnCommand(Args args) override;
  // Runs one command now (key: from Commands::Prefetch, or null); false: stop parsing (QUIT).
  bool Run(Args args, const store::HashedKey* key);
  // Runs the deferred commands, in order.
  void RunDeferred();

  ConnectionFactory* resp_;
  RequestParser parser_;
  Session session_;
  uint64_t last_byte_ms_;  // when the last bytes arrived

  // Commands parsed and not run yet: their arguments' views (into the buffer being parsed) side by
  // side in deferred_args_, command i's from deferred_at_[i] to deferred_at_[i + 1].
  static constexpr size_t kMaxDeferred = 16;
  static constexpr size_t kMaxDeferredArgs = 64;
  std::string_view deferred_args_[kMaxDeferredArgs];
  size_t deferred_at_[kMaxDeferred + 1] = {};
  store::HashedKey deferred_key_[kMaxDeferred];
  size_t n_deferred_ = 0;
};

}  // namespace kvd::resp

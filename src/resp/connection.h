// RESP connections: one client socket's commands through the RESP2 parser and the command
// handlers, on a net::StreamConnection (which does the socket, flow control and closing); and the
// factory that makes them for one reactor, with what they share there.
//
// Commands are answered as they are parsed, all those of one read before the one write. Once the
// output passes --max-output-bytes parsing pauses after the command just answered (commands are
// never held back, so none needs copying). QUIT and protocol errors close the connection after
// their answer; whatever follows them is not run, as in Redis. A command that stops arriving
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

  ConnectionFactory* resp_;
  RequestParser parser_;
  Session session_;
  uint64_t last_byte_ms_;  // when the last bytes arrived
};

}  // namespace kvd::resp

#include "resp/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

#include "fmt/format.h"
#include "net/reactor.h"
#include "resp/reply.h"

namespace kvd::resp {
namespace {

constexpr size_t kKeepParserBytes = 64 << 10;  // larger idle parser storage is given back

// "ip:port" of the peer, for CLIENT INFO; empty if unknown.
std::string PeerAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  char ip[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    return fmt::format("{}:{}", ip, ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    return fmt::format("[{}]:{}", ip, ntohs(a->sin6_port));
  }
  return {};
}

bool EqualsQuit(std::string_view name) {
  return name.size() == 4 && (name[0] | 0x20) == 'q' && (name[1] | 0x20) == 'u' && (name[2] | 0x20) == 'i' &&
         (name[3] | 0x20) == 't';
}

}  // namespace

ConnectionFactory::ConnectionFactory(const Config* config, const Commands* commands,
                                     std::atomic<uint64_t>* next_session_id)
    : config_(config), commands_(commands), next_session_id_(next_session_id) {
  // An argument is a key or a value; a command holds at most the output limit's worth of them,
  // and never less than two whole values (MSET k v: the key and one value).
  limits_.max_bulk_bytes = std::max(config->max_value_bytes, config->max_key_bytes) + 1024;
  limits_.max_command_bytes = std::max<size_t>(config->max_output_bytes, 2 * limits_.max_bulk_bytes + 4096);
  limits_.max_args = limits_.max_command_bytes / RequestParser::kArgOverhead;
  stream_limits_.max_output_bytes = config->max_output_bytes;
  stream_limits_.idle_timeout = config->idle_timeout;
}

net::Connection* ConnectionFactory::Accept(int fd, net::Reactor* reactor) {
  return new Connection(fd, reactor, this);
}

Connection::Connection(int fd, net::Reactor* reactor, ConnectionFactory* factory)
    : StreamConnection(fd, reactor, &factory->stream_limits_, metrics::Protocol::kResp),
      resp_(factory),
      parser_(&factory->limits_, this),
      last_byte_ms_(reactor->now_ms()) {
  session_.id = factory->next_session_id_->fetch_add(1, std::memory_order_relaxed) + 1;
  session_.addr = PeerAddress(fd);
  parser_.set_unauthenticated(factory->commands_->AuthRequired(session_));
}

bool Connection::RequestStalled(uint64_t now_ms) const {
  return parser_.in_command() && !parser_.in_payload() &&
         now_ms - last_byte_ms_ >= uint64_t(absl::ToInt64Milliseconds(resp_->config_->header_timeout));
}

Connection::FeedResult Connection::Feed(const char* data, size_t n) {
  last_byte_ms_ = reactor().now_ms();
  RequestParser::Result r = parser_.Feed(data, n);
  // The deferred commands' views point into `data`: they are run before it goes.
  RunDeferred();
  switch (r.status) {
    case RequestParser::Status::kOk:
      // Past the output limit: read no more until it drains.
      return {MayAnswer() ? Parsed::kAll : Parsed::kPaused, n};
    case RequestParser::Status::kPaused: return {Parsed::kPaused, r.consumed};
    case RequestParser::Status::kError: break;
  }
  AppendError(&out(), parser_.error());  // the stream counts the close (closed_bad_input)
  return {Parsed::kFailed, r.consumed};
}

bool Connection::Resume() {
  parser_.Resume();
  return true;  // nothing is held: the next command is parsed again from the pending bytes
}

void Connection::OnFlushed() { parser_.ShrinkIfIdle(kKeepParserBytes); }

bool Connection::OnCommand(Args args) {
  const Commands& cmds = *resp_->commands_;
  if (parser_.borrowed() && !cmds.AuthRequired(session_) && n_deferred_ < kMaxDeferred &&
      deferred_at_[n_deferred_] + args.size() <= kMaxDeferredArgs && !EqualsQuit(args[0])) {
    size_t at = deferred_at_[n_deferred_];
    std::copy(args.begin(), args.end(), deferred_args_ + at);
    deferred_key_[n_deferred_] = cmds.Prefetch(args);
    deferred_at_[++n_deferred_] = at + args.size();
    if (n_deferred_ == kMaxDeferred) RunDeferred();
    return !discarding() && MayAnswer();
  }
  RunDeferred();
  return Run(args, nullptr);
}

void Connection::RunDeferred() {
  if (n_deferred_ == 0) return;
  // The batch's store memory, before the first command needs any (the table's may have been
  // requested as each command was parsed: see Store::Prefetch).
  if (n_deferred_ > 1) resp_->commands_->PrefetchBatch(deferred_key_, n_deferred_);
  const size_t n = n_deferred_;
  n_deferred_ = 0;
  for (size_t i = 0; i < n; ++i) {
    Args args(deferred_args_ + deferred_at_[i], deferred_at_[i + 1] - deferred_at_[i]);
    Run(args, deferred_key_[i].key.empty() ? nullptr : &deferred_key_[i]);
  }
}

bool Connection::Run(Args args, const store::HashedKey* key) {
  net::Reactor& r = reactor();
  Commands::Context ctx{r.now_ms(), &out(), &r.m(), &resp_->stats_, &resp_->scratch_, &session_, key};
  resp_->commands_->Handle(args, ctx);
  if (session_.quit) {
    CloseAfterResponse();
    return false;
  }
  parser_.set_unauthenticated(resp_->commands_->AuthRequired(session_));
  return MayAnswer();
}

}  // namespace kvd::resp

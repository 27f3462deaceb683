// Connection: one client socket's path through kvd — read bytes, parse requests (llhttp), route
// each to the store, append its response, and write every response produced from one read with
// one write(2).
//
// Flow control: when pending output passes --max-output-bytes, parsing pauses and the socket is
// no longer read (unparsed bytes wait in `pending_in_`) until the client drains its responses, so
// a client that sends without reading costs bounded memory. After a protocol error or
// `Connection: close` the rest of the input is discarded; the socket is shut for writing once the
// last response is out and kept open briefly to drain what the client still sends, so the client
// sees the response instead of a reset ("lingering close").
//
// Thread safety: owned and used by one reactor thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "http/parser.h"
#include "http/request.h"
#include "metrics/metrics.h"
#include "store/shard.h"
#include "util/buffer.h"

namespace kvd::net {

class Reactor;

class Connection final : public http::RequestSink {
 public:
  Connection(int fd, Reactor* reactor, uint64_t now_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Event handlers. Each returns false when the connection is finished and must be destroyed.
  bool OnReadable();
  bool OnWritable();
  // Graceful shutdown: answer what has been received, read nothing more, then close.
  bool BeginShutdown();
  // Whether a timeout has run out at now_ms (idle, slow headers, or lingering close).
  bool TimedOut(uint64_t now_ms) const;

  int fd() const { return fd_; }
  uint32_t events() const { return events_; }
  size_t index = 0;     // position in the reactor's connection list
  bool closed = false;  // destroyed at the end of the current loop iteration

 private:
  bool OnRequest(http::Request& req) override;
  // Routes one request (key: from Router::Prefetch, or null); returns MayAnswer().
  bool Answer(const http::Request& req, const store::HashedKey* key = nullptr);
  // Whether more requests may be answered now: output under --max-output-bytes, not closing.
  bool MayAnswer() const;
  // Answers the deferred requests in order, while MayAnswer() (or all of them); the rest stay
  // deferred, their bytes copied (KeepDeferred). Returns whether none is left and MayAnswer().
  bool RunDeferred(bool all);
  void KeepDeferred();
  void OnContinue() override;
  bool ReadOnce();      // one read(2), its requests and their answers
  bool ShutdownStep();  // after BeginShutdown: read what was received, then stop and close

  // Feeds bytes to the parser; `from_pending` when they are pending_in_ itself.
  void Process(const char* data, size_t n, bool from_pending);
  bool Flush();
  void RecordBatch();
  // Brings the reactor's connection_buffer_bytes up to date with this connection's buffers.
  void CountBuffers();
  void SetInterest();
  bool reading() const { return !paused_ && !stop_reading_ && !lingering_; }

  int fd_;
  Reactor* reactor_;
  http::RequestParser parser_;
  Buffer out_;
  Buffer pending_in_;
  uint32_t events_ = 0;            // epoll interest currently registered
  bool paused_ = false;            // parser paused for output backpressure
  bool stop_reading_ = false;      // nothing more will be read (close after the output)
  bool close_after_flush_ = false;
  bool discard_input_ = false;     // after `Connection: close` or a protocol error
  bool lingering_ = false;
  bool shutting_down_ = false;     // BeginShutdown was called
  uint64_t last_active_ms_;
  uint64_t request_start_ms_ = 0;  // when the request now being received began
  uint64_t linger_until_ms_ = 0;
  size_t counted_buffer_bytes_ = 0;  // this connection's share of connection_buffer_bytes

  // Requests answered since the last completed flush, by (handler, method): their latency is
  // observed once the write completes. batch_used_ marks the non-zero cells of batch_, so a
  // flush visits only those (a batch has one or two kinds of request, of 30).
  static constexpr size_t kMethods = size_t(metrics::Method::kCount);
  static constexpr size_t kBatchCells = size_t(metrics::Handler::kCount) * kMethods;
  static_assert(kBatchCells <= 64, "batch_used_ has a bit per cell");
  // Requests parsed but not answered yet, in order. Answering waits for the end of the buffer
  // (or a full batch) so that the store memory of every key in it is prefetched first: at a
  // million keys each lookup is a few cache misses, which a batch overlaps (docs/design.md).
  // Their views point into the buffer being parsed, or into kept_bytes_ once kept_ (when output
  // backpressure holds them past that buffer's life).
  static constexpr size_t kMaxDeferred = 16;
  http::Request deferred_[kMaxDeferred];
  store::HashedKey deferred_key_[kMaxDeferred];  // Router::Prefetch's key (empty: none)
  size_t n_deferred_ = 0;
  bool kept_ = false;
  std::string kept_bytes_;
  uint32_t unflushed_ = 0;
  uint64_t batch_used_ = 0;
  uint16_t batch_[kBatchCells] = {};  // [handler * kMethods + method]
};

}  // namespace kvd::net

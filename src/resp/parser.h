// RequestParser: the server side of RESP2 framing. Feed it a connection's bytes as they arrive,
// split anywhere; it hands each complete command — an array of argument strings — to the sink,
// in order, and turns every framing violation into the error Redis answers with before it
// closes the connection.
//
// Two forms, told apart by a command's first byte, as Redis does:
//   multibulk  "*<n>\r\n" then n times "$<len>\r\n<len bytes>\r\n"   (what every client library
//              sends; binary-safe). n <= 0 ("*0", "*-1") is an empty command: nothing is run.
//   inline     any other first byte: one line up to "\n" (a "\r" before it is dropped), split
//              into arguments by Redis's rules (sdssplitargs, as redis-cli and telnet users rely
//              on): blanks separate arguments; "..." takes \xHH, \n, \r, \t, \b, \a and
//              \<any byte> escapes; '...' takes \' only; a closing quote must be followed by a
//              blank or the end of the line. A line of blanks only is ignored.
//
// Limits are decided from what has been read, never by buffering first: a "$<len>" over
// max_bulk_bytes, or one that would take the command's arguments over max_command_bytes, is
// refused as soon as its header line ends, before any of its bytes arrive; an inline line is
// refused once it passes max_inline_bytes without a line end. Every result — which commands
// come out, and which error — depends only on the bytes fed, never on how they were split (the
// unit tests feed a corpus at every split point).
//
// Memory and copies: a command that lies within one fed buffer is handed over as views into that
// buffer (borrowed() is true): nothing is copied. A command that spans buffers is gathered, as it
// arrives, into parser-owned storage that is reused from command to command (its capacity stays),
// so steady-state parsing allocates nothing. Held for one partial command: at most
// max_command_bytes of arguments (each argument counts its length plus kArgOverhead, the memory of
// its view) plus, for an inline command, max_inline_bytes of line.
//
// Deliberate differences from Redis 7.0 (which is lenient here): the two bytes after a bulk
// string's data and after each "*<n>"/"$<len>" header must be exactly "\r\n" (Redis skips any
// two bytes; kvd answers a protocol error); a NUL in an inline line is an ordinary byte (Redis
// stops reading the line there); a malformed header is refused at its first bad byte instead of
// when its "\r" arrives. A client that sends the protocol cannot tell the difference.
//
// Thread safety: none; one parser per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvd::resp {

struct Limits {
  size_t max_args = size_t(1) << 20;           // arguments in one multibulk command (an inline
                                               // line's are bounded by its length)
  size_t max_bulk_bytes = size_t(512) << 20;   // one argument (Redis's proto-max-bulk-len); kvd
                                               // passes max(--max-value-bytes, --max-key-bytes)
                                               // plus a little
  size_t max_inline_bytes = size_t(64) << 10;  // an inline line before its "\n" (Redis's 64 KiB)
  size_t max_command_bytes = size_t(64) << 20; // a command's arguments, each + kArgOverhead
};

// A command: its name (args[0], as sent: any case) and arguments. Never empty.
using Args = std::span<const std::string_view>;

class CommandSink {
 public:
  // A complete command. The span and, unless the parser's borrowed() says otherwise, the bytes
  // its views point to are valid during the call only. Return false to pause parsing after it
  // (output backpressure).
  virtual bool OnCommand(Args args) = 0;

 protected:
  ~CommandSink() = default;
};

class RequestParser {
 public:
  enum class Status { kOk, kPaused, kError };
  struct Result {
    Status status;
    // Bytes of the input parsed. kOk: all of it (a partial command at the end is kept inside the
    // parser). kPaused: up to the end of the command whose sink call returned false; after
    // Resume(), feed the rest again. kError: where the error was found; nothing more is parsed.
    size_t consumed;
  };
  static constexpr size_t kArgOverhead = sizeof(std::string_view);

  RequestParser(const Limits* limits, CommandSink* sink);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  Result Feed(const char* data, size_t len);
  // After kPaused. Until it is called, Feed parses nothing and returns {kPaused, 0}.
  void Resume() { paused_ = false; }

  // After kError (sticky: later Feeds return {kError, 0}): the message to answer with, as an
  // error reply ("ERR Protocol error: ..."), before closing the connection. It may quote a byte of
  // the input, CR or LF included: write it with AppendError, which makes those spaces.
  std::string_view error() const { return error_; }

  // During CommandSink::OnCommand: whether the views point into the buffer being fed (valid as
  // long as the caller keeps that buffer), rather than into the parser's own storage (valid only
  // during the call).
  bool borrowed() const { return borrowed_; }
  // True between a command's first byte and its end; false between commands.
  bool in_command() const { return state_ != State::kStart; }
  // True while an argument's bytes are arriving (the command's payload, not its framing).
  bool in_payload() const { return state_ == State::kBulkData; }

  // Redis's pre-authentication limits: while on (a connection that has yet to AUTH to a server
  // with a password), a multibulk of more than 10 arguments or a bulk string over 16 KiB is a
  // protocol error, so an unauthenticated client cannot make the server hold much. Applies from
  // the next header parsed; the connection sets it before its first Feed and after each command
  // (AUTH and HELLO change it).
  void set_unauthenticated(bool on) { unauthenticated_ = on; }

  // Memory the parser holds (storage for commands that spanned buffers, kept for reuse).
  size_t held_bytes() const;
  // Between commands: gives back storage above `keep` bytes, after a burst of large commands.
  void ShrinkIfIdle(size_t keep);

 private:
  enum class State : uint8_t {
    kStart,      // between commands
    kCount,      // after '*': the argument count, up to its '\r'
    kCountLf,    // the count's '\n'
    kBulkHead,   // an argument's '$'
    kBulkLen,    // its length, up to the '\r'
    kBulkLenLf,  // the length's '\n'
    kBulkData,   // its bytes
    kBulkCr,     // the "\r\n" after them
    kBulkLf,
    kInline,     // an inline line, up to its '\n'
  };
  static constexpr size_t kMaxDigits = 20;  // "-9223372036854775808"; Redis refuses 21 or more

  Result Fail(const char* data, const char* at, std::string message);
  // Moves the current command's arguments so far (views into the fed buffer) into own_, so the
  // command can go on in a later buffer.
  void Gather();
  // An inline line is complete (without its '\n'): splits it into own_; false on bad quoting.
  bool SplitInline(std::string_view line);
  // Hands the complete command to the sink and gets ready for the next; false: pause.
  bool Dispatch();
  void Reset();

  const Limits* limits_;
  CommandSink* sink_;
  State state_ = State::kStart;
  bool gathering_ = false;  // the current command's arguments are in own_ / lens_
  bool borrowed_ = false;
  bool paused_ = false;
  bool failed_ = false;
  bool unauthenticated_ = false;
  char num_[kMaxDigits];  // a count or length being read
  size_t num_len_ = 0;
  uint64_t args_left_ = 0;   // arguments of the multibulk still to come
  uint64_t bulk_len_ = 0;    // the current argument's length
  uint64_t bulk_left_ = 0;   // its bytes still to come (gathering)
  uint64_t command_bytes_ = 0;
  const char* line_start_ = nullptr;  // an inline line's start in the buffer being fed
  std::vector<std::string_view> args_;  // what the sink gets; views into the buffer or own_
  std::vector<size_t> lens_;            // gathering: each argument's length, laid end to end in own_
  std::string own_;
  std::string line_;                    // an inline line that spans buffers
  std::string error_;
};

}  // namespace kvd::resp

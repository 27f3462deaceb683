// RESP2 replies appended to a connection's output Buffer.
//
// Every function appends exactly one complete RESP2 value (an array header announces the values
// the caller appends after it). Simple strings and errors cannot carry CR or LF on the wire: any
// there are written as spaces, as Redis does for its error replies, so a reply can never break
// the framing whatever bytes a client's arguments put in a message.
//
// Thread safety: none beyond the Buffer's (one connection's output, one thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "util/buffer.h"

namespace kvd::resp {

// Writes v in decimal at p (room for 20 bytes needed); returns the end.
inline char* WriteDecimal(char* p, uint64_t v) {
  char tmp[20];
  char* t = tmp + sizeof tmp;
  do {
    *--t = char('0' + v % 10);
    v /= 10;
  } while (v != 0);
  size_t n = size_t(tmp + sizeof tmp - t);
  std::memcpy(p, t, n);
  return p + n;
}

// "+<s>\r\n"
void AppendSimple(Buffer* out, std::string_view s);
// "-<message>\r\n"; message starts with its code ("ERR ...", "NOAUTH ...") and has no leading '-'.
void AppendError(Buffer* out, std::string_view message);
// ":<v>\r\n"
void AppendInteger(Buffer* out, int64_t v);
// "*<n>\r\n": the n values follow.
void AppendArrayHeader(Buffer* out, size_t n);

inline void AppendOk(Buffer* out) { out->Append("+OK\r\n", 5); }
inline void AppendNullBulk(Buffer* out) { out->Append("$-1\r\n", 5); }
inline void AppendNullArray(Buffer* out) { out->Append("*-1\r\n", 5); }

// "$<len>\r\n<s>\r\n", binary-safe. The GET reply, so written in one step for the usual value:
// a single reservation and one copy (larger values are appended as they are, because Reserve
// zero-fills the bytes it adds, which would write a large value twice).
inline void AppendBulk(Buffer* out, std::string_view s) {
  constexpr size_t kOneStep = 4096;
  if (s.size() <= kOneStep) {
    char* start = out->Reserve(1 + 20 + 2 + s.size() + 2);
    char* p = start;
    *p++ = '$';
    p = WriteDecimal(p, s.size());
    *p++ = '\r';
    *p++ = '\n';
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    p += s.size();
    *p++ = '\r';
    *p++ = '\n';
    out->Commit(size_t(p - start));
    return;
  }
  char head[24];
  char* p = head;
  *p++ = '$';
  p = WriteDecimal(p, s.size());
  *p++ = '\r';
  *p++ = '\n';
  out->Append(head, size_t(p - head));
  out->Append(s);
  out->Append("\r\n", 2);
}

}  // namespace kvd::resp

#include "resp/reply.h"

namespace kvd::resp {
namespace {

// A one-line reply: the type byte, the text with CR and LF made spaces, CRLF.
void AppendLine(Buffer* out, char type, std::string_view s) {
  char* start = out->Reserve(1 + s.size() + 2);
  char* p = start;
  *p++ = type;
  for (char c : s) *p++ = (c == '\r' || c == '\n') ? ' ' : c;
  *p++ = '\r';
  *p++ = '\n';
  out->Commit(size_t(p - start));
}

void AppendNumberLine(Buffer* out, char type, bool negative, uint64_t magnitude) {
  char* start = out->Reserve(1 + 1 + 20 + 2);
  char* p = start;
  *p++ = type;
  if (negative) *p++ = '-';
  p = WriteDecimal(p, magnitude);
  *p++ = '\r';
  *p++ = '\n';
  out->Commit(size_t(p - start));
}

}  // namespace

void AppendSimple(Buffer* out, std::string_view s) { AppendLine(out, '+', s); }

void AppendError(Buffer* out, std::string_view message) { AppendLine(out, '-', message); }

void AppendInteger(Buffer* out, int64_t v) {
  // The magnitude of INT64_MIN does not fit in int64_t: negate in unsigned arithmetic.
  AppendNumberLine(out, ':', v < 0, v < 0 ? 0 - uint64_t(v) : uint64_t(v));
}

void AppendArrayHeader(Buffer* out, size_t n) { AppendNumberLine(out, '*', false, n); }

}  // namespace kvd::resp

// Test helpers for RequestParser (parser_test.cc, parser_conformance_test.cc): run an input
// through a parser whole, split at given points, at every point and byte by byte, and compare
// what the sink saw.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/parser.h"

namespace kvd::http::testing {

using Status = RequestParser::Status;

// What the sink saw of one request (a copy: the parser reuses its Request).
struct Seen {
  Method method;
  std::string method_name, target, body, authorization, if_match, if_none_match;
  int reject_status;
  std::string reject_reason;
  bool keep_alive;
};

inline std::string Describe(const Seen& s) {
  std::string d = s.method_name;
  d += ' ';
  d += s.target;
  d += " m=" + std::to_string(int(s.method));
  d += " ka=" + std::to_string(s.keep_alive);
  d += " auth=[" + s.authorization + "]";
  d += " if-match=[" + s.if_match + "] if-none-match=[" + s.if_none_match + "]";
  d += " reject=" + std::to_string(s.reject_status) + " [" + s.reject_reason + "]";
  d += " body=[" + s.body + "]";
  return d;
}

class Recorder final : public RequestSink {
 public:
  bool OnRequest(Request& r) override {
    seen.push_back({r.method, r.method_name, std::string(r.target), std::string(r.body), r.authorization,
                    r.if_match, r.if_none_match, r.reject_status, r.reject_reason, r.keep_alive});
    return !pause;
  }
  void OnContinue() override { continue_before.push_back(seen.size()); }

  std::vector<Seen> seen;
  std::vector<size_t> continue_before;  // for each OnContinue: requests completed before it
  bool pause = false;                   // return false from every OnRequest
};

// The result of parsing one input, in a form to compare across ways of splitting it.
struct Run {
  Status status = Status::kOk;
  int error = 0;
  std::vector<Seen> seen;
  std::vector<size_t> continue_before;

  std::string Describe() const {
    std::string d = status == Status::kOk ? "ok" : status == Status::kPaused ? "paused" : "error";
    d += " " + std::to_string(error) + "\n";
    for (const Seen& s : seen) d += "  " + testing::Describe(s) + "\n";
    d += "  continues:";
    for (size_t c : continue_before) d += " " + std::to_string(c);
    return d;
  }
};

// Feeds `input` in pieces that end at `cuts` (ascending), each piece copied into a heap block of
// its exact size so ASan sees any read past it. Stops at the first error.
inline Run Parse(std::string_view input, const std::vector<size_t>& cuts = {}, const Limits& limits = {}) {
  Recorder rec;
  RequestParser parser(&limits, &rec);
  Run run;
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t end : ends) {
    if (end <= from && !(end == input.size() && from == 0)) continue;
    size_t n = end - from;
    std::unique_ptr<char[]> piece(new char[n ? n : 1]);
    if (n) std::memcpy(piece.get(), input.data() + from, n);
    RequestParser::Result r = parser.Feed(piece.get(), n);
    from = end;
    if (r.status == Status::kError) {
      run.status = Status::kError;
      run.error = parser.error_status();
      CHECK(!parser.error_message().empty());
      break;
    }
    REQUIRE(r.status == Status::kOk);
    CHECK(r.consumed == n);
  }
  run.seen = std::move(rec.seen);
  run.continue_before = std::move(rec.continue_before);
  return run;
}

inline Run ParseWith(std::string_view input, const Limits& limits) { return Parse(input, {}, limits); }

inline std::vector<size_t> EveryByte(size_t len) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < len; ++i) cuts.push_back(i);
  return cuts;
}

// Parses `input` whole, split in two at every position, in three at a few, and byte by byte, and
// checks every way gives the same result. Returns the whole-buffer result.
inline Run ParseEverySplit(std::string_view input, const Limits& limits = {}) {
  Run whole = Parse(input, {}, limits);
  std::string want = whole.Describe();
  for (size_t i = 1; i < input.size(); ++i) {
    CAPTURE(i);
    CHECK(Parse(input, {i}, limits).Describe() == want);
    size_t j = i + (input.size() - i) / 2;
    if (j > i) CHECK(Parse(input, {i, j}, limits).Describe() == want);
  }
  CHECK(Parse(input, EveryByte(input.size()), limits).Describe() == want);
  return whole;
}

inline int ErrorOf(std::string_view input, const Limits& limits = {}) {
  Run r = ParseWith(input, limits);
  CHECK(r.status == Status::kError);
  return r.error;
}

// Checks that `input` fails with `status` whole, at every split and byte by byte.
inline void ExpectError(std::string_view input, int status, const Limits& limits = {}) {
  CAPTURE(input);
  Run r = ParseEverySplit(input, limits);
  CHECK(r.status == Status::kError);
  CHECK(r.error == status);
}

// Checks that `input` is a well-framed request handed to the sink refused with `status` (so the
// connection answers it and stays open), the same whole, at every split and byte by byte.
// Returns what the sink saw of the first request.
inline Seen ExpectRejected(std::string_view input, int status, const Limits& limits = {}) {
  CAPTURE(input);
  Run r = ParseEverySplit(input, limits);
  CHECK(r.status == Status::kOk);
  REQUIRE(!r.seen.empty());
  CHECK(r.seen[0].reject_status == status);
  CHECK(!r.seen[0].reject_reason.empty());
  return r.seen[0];
}

// Checks that `input` is a request handed over and not refused, however it is split.
inline Seen ExpectAccepted(std::string_view input, const Limits& limits = {}) {
  CAPTURE(input);
  Run r = ParseEverySplit(input, limits);
  CHECK(r.status == Status::kOk);
  REQUIRE(!r.seen.empty());
  CHECK(r.seen[0].reject_status == 0);
  CHECK(r.seen[0].reject_reason.empty());
  return r.seen[0];
}

}  // namespace kvd::http::testing

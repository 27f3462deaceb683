#include "resp/reply.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace kvd::resp {
namespace {

TEST_CASE("resp reply: every type byte for byte") {
  Buffer b;
  AppendOk(&b);
  AppendSimple(&b, "PONG");
  AppendError(&b, "ERR syntax error");
  AppendInteger(&b, 0);
  AppendInteger(&b, 42);
  AppendInteger(&b, -7);
  AppendBulk(&b, "v1");
  AppendBulk(&b, "");
  AppendNullBulk(&b);
  AppendArrayHeader(&b, 0);
  AppendArrayHeader(&b, 3);
  AppendNullArray(&b);
  CHECK(b.view() ==
        "+OK\r\n+PONG\r\n-ERR syntax error\r\n:0\r\n:42\r\n:-7\r\n$2\r\nv1\r\n$0\r\n\r\n$-1\r\n"
        "*0\r\n*3\r\n*-1\r\n");
}

TEST_CASE("resp reply: integers at the ends of the 64-bit range") {
  Buffer b;
  AppendInteger(&b, std::numeric_limits<int64_t>::max());
  AppendInteger(&b, std::numeric_limits<int64_t>::min());
  CHECK(b.view() == ":9223372036854775807\r\n:-9223372036854775808\r\n");
}

TEST_CASE("resp reply: CR and LF in one-line replies become spaces") {
  // Redis does the same to its error messages (checked against redis-server 7.0.15: a command
  // named "fo\ro" is answered "-ERR unknown command 'fo o', ...").
  Buffer b;
  AppendError(&b, "ERR bad\r\nname");
  AppendSimple(&b, "a\nb");
  CHECK(b.view() == "-ERR bad  name\r\n+a b\r\n");
}

TEST_CASE("resp reply: bulk strings are binary-safe, small and large") {
  std::string bin("a\0b\r\nc", 6);
  std::string big(100000, 'x');
  big[0] = '\0';
  big.back() = '\n';
  for (size_t n : {size_t(1), size_t(4095), size_t(4096), size_t(4097), big.size()}) {
    std::string v = n == big.size() ? big : std::string(n, 'q');
    Buffer b;
    b.Append("prefix");
    AppendBulk(&b, v);
    CHECK(b.view() == "prefix$" + std::to_string(v.size()) + "\r\n" + v + "\r\n");
  }
  Buffer b;
  AppendBulk(&b, bin);
  CHECK(b.view() == std::string("$6\r\na\0b\r\nc\r\n", 12));
}

TEST_CASE("resp reply: WriteDecimal") {
  char buf[24];
  for (uint64_t v : {uint64_t(0), uint64_t(9), uint64_t(10), uint64_t(1234567890),
                     std::numeric_limits<uint64_t>::max()}) {
    char* end = WriteDecimal(buf, v);
    CHECK(std::string(buf, end) == std::to_string(v));
  }
}

}  // namespace
}  // namespace kvd::resp

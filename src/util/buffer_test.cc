#include "util/buffer.h"

#include <doctest/doctest.h>

#include <string>

namespace kvd {
namespace {

TEST_CASE("Buffer: appends, reserved room, consumed prefix") {
  Buffer b;
  CHECK(b.empty());
  CHECK(b.capacity() == 0);
  CHECK(b.data() != nullptr);  // as a string's: C callees (llhttp) may not take null, even empty
  b.Append(std::string_view());  // nothing, from a null view
  CHECK(b.empty());
  b.Append("ab");
  b.Append('c');
  b.Append("def", 2);
  CHECK(b.view() == "abcde");
  char* p = b.Reserve(10);
  std::memcpy(p, "xyz", 3);
  b.Commit(3);  // less than reserved
  CHECK(b.view() == "abcdexyz");
  b.Consume(3);
  CHECK(b.view() == "dexyz");
  CHECK(b.size() == 5);
  // Growing keeps the unconsumed bytes (and the consumed prefix: no copy until it empties).
  std::string big(100000, 'q');
  b.Append(big);
  CHECK(b.size() == 5 + big.size());
  CHECK(b.view().substr(0, 5) == "dexyz");
  CHECK(b.view().substr(5) == big);
  CHECK(b.capacity() >= 3 + b.size());
  b.Consume(b.size());
  CHECK(b.empty());
  size_t cap = b.capacity();
  b.Append("k");  // emptied: written from the start again, in the same storage
  CHECK(b.view() == "k");
  CHECK(b.capacity() == cap);
  b.ShrinkIfIdle(0);  // not idle
  CHECK(b.capacity() == cap);
  b.Clear();
  b.ShrinkIfIdle(cap);  // within what it may keep
  CHECK(b.capacity() == cap);
  b.ShrinkIfIdle(64);
  CHECK(b.capacity() == 0);
  CHECK(b.data() != nullptr);
  b.Append("again");
  CHECK(b.view() == "again");
}

TEST_CASE("Buffer: many small appends grow it amortised, contents intact") {
  Buffer b;
  std::string want;
  for (int i = 0; i < 5000; ++i) {
    std::string s = std::to_string(i) + ",";
    b.Append(s);
    want += s;
    if (i % 7 == 0) {
      b.Consume(1);
      want.erase(0, 1);
    }
  }
  CHECK(b.view() == want);
}

}  // namespace
}  // namespace kvd

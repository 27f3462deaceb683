#include "net/listener.h"

#include <unistd.h>

#include <string>
#include <vector>

#include <doctest/doctest.h>
#include "fmt/format.h"

namespace kvd::net {
namespace {

// Listening sockets that close themselves.
struct Listeners {
  std::vector<int> fds;
  ~Listeners() {
    for (int fd : fds) close(fd);
  }
  int Open(const std::string& bind, uint16_t port) {
    std::string error;
    int fd = OpenListener(bind, port, &error);
    REQUIRE_MESSAGE(fd >= 0, error);
    fds.push_back(fd);
    return fd;
  }
};

TEST_CASE("OthersListening sees a process sharing the port through SO_REUSEPORT") {
  Listeners l;
  const int a = l.Open("127.0.0.1", 0);
  const uint16_t port = BoundPort(a);
  REQUIRE(port != 0);
  std::string where;
  CHECK(OthersListening("127.0.0.1", port, {a}, &where) == 0);

  // Another socket joins the port, as another kvd of the same user would: the kernel allows it.
  const int b = l.Open("127.0.0.1", port);
  CHECK(OthersListening("127.0.0.1", port, {a}, &where) == 1);
  CHECK(where == fmt::format("127.0.0.1:{}", port));
  CHECK(OthersListening("127.0.0.1", port, {a, b}, &where) == 0);  // both ours

  // Where the addresses overlap: the wildcard takes 127.0.0.1's connections too.
  const int any = l.Open("0.0.0.0", port);
  CHECK(OthersListening("127.0.0.1", port, {a, b}, &where) == 1);
  CHECK(where == fmt::format("0.0.0.0:{}", port));
  CHECK(OthersListening("0.0.0.0", port, {any}, &where) == 2);  // the wildcard overlaps every IPv4 one
  CHECK(OthersListening("::", port, {}, &where) == 3);          // so does the IPv6 wildcard

  // Another address of the same port is another service, not a share.
  CHECK(OthersListening("127.0.0.2", port, {}, &where) == 1);  // only the wildcard
  CHECK(OthersListening("127.0.0.1", uint16_t(port + 1), {}, &where) == 0);
}

TEST_CASE("OthersListening ignores what does not listen, and addresses it cannot read") {
  Listeners l;
  const int a = l.Open("127.0.0.1", 0);
  const uint16_t port = BoundPort(a);
  std::string where = "untouched";
  CHECK(OthersListening("not an address", port, {}, &where) == 0);
  CHECK(where == "untouched");
  close(a);
  l.fds.clear();
  CHECK(OthersListening("127.0.0.1", port, {}, &where) == 0);  // closed: gone from the table
}

}  // namespace
}  // namespace kvd::net

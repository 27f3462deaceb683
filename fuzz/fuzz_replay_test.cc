// Replays the fuzz corpora through the fuzz harnesses in the ordinary unit-test binary, so
// `make test` (g++, no libFuzzer) re-checks every seed and every input that once found a bug:
// fuzz/corpus/{connection,uri,resp}/ (seeds) and fuzz/corpus/regressions/{connection,uri,resp}/
// (crashes found by `make fuzz`, kept after the fix). Paths are relative to the repository root,
// where tests/run.sh and `make unit` run the binary.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "connection_harness.h"
#include "resp_harness.h"
#include "uri_harness.h"

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> CorpusFiles(const std::string& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

template <class F>
void Replay(const std::string& sub, F run, size_t min_files) {
  const std::string root = "fuzz/corpus/";
  if (!fs::is_directory(root)) {
    MESSAGE("fuzz/corpus not found (run from the repository root); skipped");
    return;
  }
  std::vector<fs::path> files = CorpusFiles(root + sub);
  CHECK(files.size() >= min_files);
  for (const fs::path& p : files) {
    std::string data = ReadAll(p);
    std::string failure = run(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    INFO("input: ", p.string());
    CHECK_MESSAGE(failure.empty(), failure);
  }
}

}  // namespace

TEST_CASE("fuzz corpus: connection seeds and regressions replay cleanly") {
  Replay("connection", kvd::fuzz::RunConnectionCase, 20);
  Replay("regressions/connection", kvd::fuzz::RunConnectionCase, 0);
}

TEST_CASE("fuzz corpus: uri seeds and regressions replay cleanly") {
  Replay("uri", kvd::fuzz::RunUriCase, 10);
  Replay("regressions/uri", kvd::fuzz::RunUriCase, 0);
}

TEST_CASE("fuzz corpus: resp seeds and regressions replay cleanly") {
  Replay("resp", kvd::fuzz::RunRespCase, 20);
  Replay("regressions/resp", kvd::fuzz::RunRespCase, 0);
}

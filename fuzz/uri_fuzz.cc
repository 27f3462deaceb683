// libFuzzer target for the request-target functions (PercentDecode, SplitTarget, PlainPathLength,
// ParseTtl, ParseWriteOptions). The properties are in uri_harness.h; built only by mk/fuzz.mk
// (`make fuzz`, clang).
#include <cstdio>
#include <cstdlib>

#include "uri_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string failure = kvd::fuzz::RunUriCase(data, size);
  if (!failure.empty()) {
    std::fprintf(stderr, "uri_fuzz: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}

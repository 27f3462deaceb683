#include "util/log.h"

#include <unistd.h>

#include <atomic>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kvd::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
constexpr const char* kNames[] = {"DEBU", "INFO", "WARN", "ERRO"};  // logrus's 4-letter tags
}  // namespace

void SetLevel(Level level) { g_level.store(level, std::memory_order_relaxed); }
bool Enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

bool ParseLevel(std::string_view name, Level* out) {
  if (name == "debug") *out = Level::kDebug;
  else if (name == "info") *out = Level::kInfo;
  else if (name == "warn" || name == "warning") *out = Level::kWarn;
  else if (name == "error") *out = Level::kError;
  else return false;
  return true;
}

void Write(Level level, std::string_view msg) {
  std::string line = fmt::format(
      "{}[{}] {}\n", kNames[int(level)],
      absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", absl::Now(), absl::LocalTimeZone()), msg);
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace kvd::log

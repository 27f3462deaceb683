// Logging in the seed's logrus text style, to stderr:
//   INFO[2026-11-29T22:27:17+00:00] Starting server on 8081 ...
// Thread safety: Log() may be called from any thread; each line is written with one write(2).
#pragma once

#include <string_view>

#include "fmt/format.h"

namespace kvd::log {

enum class Level { kDebug, kInfo, kWarn, kError };

void SetLevel(Level level);
bool ParseLevel(std::string_view name, Level* out);
bool Enabled(Level level);
void Write(Level level, std::string_view msg);

template <class... Args>
void Log(Level level, fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(level)) Write(level, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args> void Debug(fmt::format_string<Args...> f, Args&&... a) { Log(Level::kDebug, f, std::forward<Args>(a)...); }
template <class... Args> void Info(fmt::format_string<Args...> f, Args&&... a) { Log(Level::kInfo, f, std::forward<Args>(a)...); }
template <class... Args> void Warn(fmt::format_string<Args...> f, Args&&... a) { Log(Level::kWarn, f, std::forward<Args>(a)...); }
template <class... Args> void Error(fmt::format_string<Args...> f, Args&&... a) { Log(Level::kError, f, std::forward<Args>(a)...); }

}  // namespace kvd::log

#include "metrics/process_stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

namespace kvd::metrics {
namespace {

// /proc files report size 0, so read until EOF rather than by stat size.
std::optional<std::string> ReadFile(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string s;
  char buf[4096];
  ssize_t r;
  while ((r = read(fd, buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR)) {
    if (r > 0) s.append(buf, size_t(r));
  }
  close(fd);
  if (r < 0) return std::nullopt;
  return s;
}

// Parses a decimal prefix of `s` (the whole of it, if `whole`).
bool ParseU64(std::string_view s, uint64_t* v, bool whole = true) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && (!whole || end == s.data() + s.size());
}

std::vector<std::string_view> SplitSpaces(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    size_t sp = s.find(' ');
    if (sp != 0) out.push_back(s.substr(0, sp));
    if (sp == std::string_view::npos) break;
    s.remove_prefix(sp + 1);
  }
  return out;
}

std::optional<uint64_t> BootTimeSeconds() {
  auto stat = ReadFile("/proc/stat");
  if (!stat) return std::nullopt;
  constexpr std::string_view kKey = "\nbtime ";  // never the first line, which is "cpu ..."
  size_t at = stat->find(kKey);
  uint64_t v;
  if (at == std::string::npos ||
      !ParseU64(std::string_view(*stat).substr(at + kKey.size()), &v, false)) {
    return std::nullopt;
  }
  return v;
}

std::optional<uint64_t> CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return std::nullopt;
  uint64_t n = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  // The listing includes the descriptor opendir() itself held; it is not the process's own.
  return n > 0 ? n - 1 : 0;
}

}  // namespace

std::optional<ProcessStats> ReadProcessStats() {
  auto stat = ReadFile("/proc/self/stat");
  if (!stat) return std::nullopt;
  // comm (field 2) is parenthesised and may contain spaces or ')', so parse after the last ')'.
  size_t paren = stat->rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(*stat).substr(paren + 1);
  if (!rest.empty() && rest.back() == '\n') rest.remove_suffix(1);
  std::vector<std::string_view> f = SplitSpaces(rest);
  // f[0] is field 3 (state) of proc(5), so field k is f[k - 3].
  auto field = [&](size_t k, uint64_t* v) { return k - 3 < f.size() && ParseU64(f[k - 3], v); };
  uint64_t utime, stime, threads, starttime, vsize, rss_pages;
  if (!field(14, &utime) || !field(15, &stime) || !field(20, &threads) || !field(22, &starttime) ||
      !field(23, &vsize) || !field(24, &rss_pages)) {
    return std::nullopt;
  }
  auto btime = BootTimeSeconds();
  auto fds = CountOpenFds();
  rlimit lim;
  if (!btime || !fds || getrlimit(RLIMIT_NOFILE, &lim) != 0) return std::nullopt;

  const double ticks = double(sysconf(_SC_CLK_TCK));
  ProcessStats s;
  s.cpu_seconds = double(utime + stime) / ticks;
  s.resident_bytes = rss_pages * uint64_t(sysconf(_SC_PAGESIZE));
  s.virtual_bytes = vsize;
  s.open_fds = *fds;
  s.max_fds = lim.rlim_cur;
  s.start_time_seconds = double(*btime) + double(starttime) / ticks;
  s.threads = threads;
  return s;
}

}  // namespace kvd::metrics

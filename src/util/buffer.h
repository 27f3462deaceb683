// Buffer: a growable byte buffer with a consumed prefix, for a connection's pending output (and
// input kept while parsing is paused). Appends are amortised O(1); Consume() is O(1) and the
// storage is compacted only when it empties, so a partially written response costs no copy.
//
// Its own storage rather than a std::string's: Reserve gives room that is written once, by the
// caller (a string's resize would zero it first), and an append that fits is a bounds check and
// a copy, inline. Every response is appended here, a few times each.
//
// Thread safety: none (owned by one connection).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

namespace kvd {

class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() {
    if (cap_ != 0) std::free(buf_);
  }

  // Never null, as a string's: it goes to C code (llhttp) that may not take a null pointer even
  // with no bytes.
  const char* data() const { return buf_ + start_; }
  size_t size() const { return end_ - start_; }
  bool empty() const { return end_ == start_; }
  std::string_view view() const { return {data(), size()}; }

  void Append(std::string_view s) { Append(s.data(), s.size()); }
  void Append(const char* p, size_t n) {
    if (n == 0) return;  // an empty view may have a null data()
    std::memcpy(Reserve(n), p, n);
    end_ += n;
  }
  void Append(char c) {
    *Reserve(1) = c;
    ++end_;
  }
  // Room to write n bytes directly (not initialized); call Commit(m) with how many (m <= n)
  // were written, before anything else is appended.
  char* Reserve(size_t n) {
    if (cap_ - end_ < n) Grow(n);
    return buf_ + end_;
  }
  void Commit(size_t m) { end_ += m; }

  void Consume(size_t n) {
    start_ += n;
    if (start_ == end_) Clear();
  }
  void Clear() { start_ = end_ = 0; }
  // Gives memory back after a burst (a large value, a deep pipeline) so idle connections stay small.
  void ShrinkIfIdle(size_t keep) {
    if (empty() && cap_ > keep) {
      std::free(buf_);
      buf_ = kNoStorage;
      cap_ = 0;
      Clear();
    }
  }
  size_t capacity() const { return cap_; }

 private:
  // Room for n more bytes after end_: at least doubles, so appends stay amortised O(1).
  [[gnu::noinline]] void Grow(size_t n) {
    size_t cap = cap_ * 2 > end_ + n ? cap_ * 2 : end_ + n;
    if (cap < kMinBytes) cap = kMinBytes;
    void* p = std::realloc(cap_ != 0 ? buf_ : nullptr, cap);
    if (p == nullptr) throw std::bad_alloc();
    buf_ = static_cast<char*>(p);
    cap_ = cap;
  }
  static constexpr size_t kMinBytes = 256;  // a few responses' heads

  inline static char kNoStorage[1] = {};  // buf_ before the first Grow: never written
  char* buf_ = kNoStorage;
  size_t start_ = 0;  // bytes before it are consumed
  size_t end_ = 0;    // bytes from it on are unwritten
  size_t cap_ = 0;
};

}  // namespace kvd

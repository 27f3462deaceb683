// PageAllocator: the hash table's allocator. Large arrays are mapped straight from the system and
// unmapped when freed, and every byte is counted, so the shard's memory budget covers the table
// exactly (malloc keeps freed arrays of a grown table in its heap, where they were still
// resident but no longer counted; glibc also raises its mmap threshold as such arrays are freed).
//
// Counting: *counter grows by what each allocation holds (page-rounded when mapped) and shrinks
// when it is freed, so while a table grows it counts the old and the new array together.
// Thread safety: as the counter's owner (the shard's lock).
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace kvd::store {

inline constexpr size_t kPageBytes = 4096;
inline constexpr size_t kMapThreshold = 64 << 10;  // smaller arrays come from malloc

// What an allocation of n bytes holds.
inline size_t HeldBytes(size_t n) {
  return n >= kMapThreshold ? (n + kPageBytes - 1) & ~(kPageBytes - 1) : n;
}

template <class T>
class PageAllocator {
 public:
  using value_type = T;

  explicit PageAllocator(uint64_t* counter) : counter_(counter) {}
  template <class U>
  PageAllocator(const PageAllocator<U>& o) : counter_(o.counter()) {}  // NOLINT: rebinding

  T* allocate(size_t n) {
    size_t bytes = n * sizeof(T);
    void* p;
    if (bytes >= kMapThreshold) {
      p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
    } else {
      p = std::malloc(bytes);
      if (p == nullptr) throw std::bad_alloc();
    }
    *counter_ += HeldBytes(bytes);
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) {
    size_t bytes = n * sizeof(T);
    if (bytes >= kMapThreshold) {
      munmap(p, bytes);
    } else {
      std::free(p);
    }
    *counter_ -= HeldBytes(bytes);
  }

  uint64_t* counter() const { return counter_; }
  template <class U>
  bool operator==(const PageAllocator<U>& o) const { return counter_ == o.counter(); }

 private:
  uint64_t* counter_;
};

}  // namespace kvd::store

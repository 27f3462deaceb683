// SpinLock: a lock for critical sections of a few hundred nanoseconds (a store shard's table
// operation), cheaper than std::mutex where it matters most, uncontended: one atomic exchange to
// take it and a plain store to give it back (a futex mutex needs an atomic read-modify-write on
// both). A waiter spins briefly, then yields its CPU, so a holder that was preempted (more threads
// than cores) gets to run instead of being spun against for a whole time slice.
//
// Thread safety: that is what it is for. Satisfies Lockable (std::lock_guard, try_lock).
#pragma once

#include <sched.h>

#include <atomic>

namespace kvd {

class SpinLock {
 public:
  void lock() {
    while (locked_.exchange(true, std::memory_order_acquire)) Wait();
  }
  bool try_lock() {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  void Wait() {
    for (int spins = 0; locked_.load(std::memory_order_relaxed); ++spins) {
      if (spins < 128) {
        __builtin_ia32_pause();
      } else {
        sched_yield();
      }
    }
  }
  std::atomic<bool> locked_{false};
};

}  // namespace kvd

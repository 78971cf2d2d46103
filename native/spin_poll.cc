// spinPoll: bounded busy polling over a few fds, so an engine that just handled traffic can catch the next
// packet without going back to sleep in epoll (a sleeping process's wakeup costs several microseconds on
// each hop of a tunnel). It yields the CPU between polls, so other runnable work on the core goes first.
#include <errno.h>
#include <stdint.h>
#include <poll.h>
#include <sched.h>
#include <time.h>

#include "args.h"
#include "functions.h"

namespace tartan {
namespace {

constexpr size_t kMaxFds = 8;

inline int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

}  // namespace

// spinPoll(fds, budgetUs, contendedGapUs): polls fds (Int32Array, at most 8) for readability without
// blocking, yielding between polls, until one is readable or budgetUs microseconds pass. Returns a bitmask
// (bit i: fds[i] is readable or in error), 0 when the budget ran out, -EBUSY when more than contendedGapUs
// passed between two polls (another task ran on the core in the yield: the core is wanted; 0 never stops for
// that), or -errno.
Napi::Value SpinPoll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    ThrowType(env, "spinPoll", "fds must be an Int32Array");
    return env.Undefined();
  }
  int64_t budget = 0;
  if (!ArgInt(info, 1, "spinPoll", "budgetUs", 0, 1000000, &budget)) return env.Undefined();
  int64_t gap_us = 0;
  if (!ArgInt(info, 2, "spinPoll", "contendedGapUs", 0, 1000000, &gap_us)) return env.Undefined();
  const int64_t gap_ns = gap_us > 0 ? gap_us * 1000 : INT64_MAX;
  Napi::Int32Array a = info[0].As<Napi::Int32Array>();
  const size_t n = a.ElementLength();
  if (n == 0 || n > kMaxFds) return Num(env, -EINVAL);
  struct pollfd p[kMaxFds];
  for (size_t i = 0; i < n; i++) p[i] = {a[i], POLLIN, 0};
  int64_t last = NowNs();
  const int64_t deadline = last + budget * 1000;
  for (;;) {
    int rc = poll(p, n, 0);
    if (rc < 0 && errno != EINTR) return Num(env, -errno);
    if (rc > 0) {
      int bits = 0;
      for (size_t i = 0; i < n; i++)
        if (p[i].revents != 0) bits |= 1 << i;
      return Num(env, bits);
    }
    const int64_t now = NowNs();
    if (now - last > gap_ns) return Num(env, -EBUSY);
    if (now >= deadline) return Num(env, 0);
    sched_yield();
    last = now;
  }
}

}  // namespace tartan

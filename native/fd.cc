// close(fd) for the fds the addon hands out.
#include <errno.h>
#include <unistd.h>

#include "args.h"
#include "functions.h"
#include "poll.h"

namespace tartan {

// close(fd): 0 or -errno; -EBUSY (and the fd stays open) while a poll still watches it: pollClose first,
// since libuv aborts the process when an fd in its epoll set vanishes under it.
Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd = 0;
  if (!ArgInt(info, 0, "close", "fd", INT32_MIN, INT32_MAX, &fd)) return env.Undefined();
  if (fd < 0) return Num(env, -EBADF);
  if (PollWatchesFd(env, static_cast<int>(fd))) return Num(env, -EBUSY);
  // Linux releases the fd even when close() reports EINTR (close(2)); never retry.
  if (close(static_cast<int>(fd)) < 0 && errno != EINTR) return Num(env, -errno);
  return Num(env, 0);
}

}  // namespace tartan

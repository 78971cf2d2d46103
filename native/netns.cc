// Network namespaces: move the calling thread into a namespace and back (setns(2), CLONE_NEWNET). Only the
// calling thread moves; fds opened meanwhile keep the namespace they were opened in.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <string>

#include "args.h"
#include "functions.h"

namespace tartan {

// netnsSwitch(path): saves the thread's current namespace as an fd, enters the one at path; returns the
// saved fd (for netnsRestore) or -errno, in which case the thread has not moved.
Napi::Value NetnsSwitch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!ArgString(info, 0, "netnsSwitch", "path", &path)) return env.Undefined();
  if (path.empty() || path.find('\0') != std::string::npos) return Num(env, -EINVAL);

  int old_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (old_fd < 0) return Num(env, -errno);
  int ns_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns_fd < 0) {
    int err = errno;
    close(old_fd);
    return Num(env, -err);
  }
  int rc = setns(ns_fd, CLONE_NEWNET);
  int err = errno;
  close(ns_fd);
  if (rc < 0) {
    close(old_fd);
    return Num(env, -err);
  }
  return Num(env, old_fd);
}

// netnsRestore(fd): returns the thread to the namespace fd refers to and closes fd (also on failure).
// 0 or -errno.
Napi::Value NetnsRestore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd = 0;
  if (!ArgInt(info, 0, "netnsRestore", "fd", INT32_MIN, INT32_MAX, &fd)) return env.Undefined();
  if (fd < 0) return Num(env, -EBADF);
  int rc = setns(static_cast<int>(fd), CLONE_NEWNET);
  int err = errno;
  close(static_cast<int>(fd));
  return Num(env, rc < 0 ? -err : 0);
}

}  // namespace tartan

// UDP sockets for the underlay: non-blocking, bound, with large buffers so bursts of a batch fit.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "args.h"
#include "functions.h"

namespace tartan {
namespace {

// Sets a socket buffer to `bytes`: the FORCE option first (CAP_NET_ADMIN may exceed net.core.*mem_max),
// then the plain one, which the kernel caps at the sysctl maximum. 0 or -errno.
int SetBuffer(int fd, int force_opt, int plain_opt, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) == 0) return 0;
  if (setsockopt(fd, SOL_SOCKET, plain_opt, &bytes, sizeof bytes) == 0) return 0;
  return -errno;
}

}  // namespace

// udpOpen(addr, port, bufBytes): a non-blocking, close-on-exec UDP socket bound to addr:port (host byte
// order; port 0 = any) with SO_RCVBUF/SO_SNDBUF of bufBytes (0 keeps the kernel default). fd or -errno.
Napi::Value UdpOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t addr = 0;
  int64_t port = 0, buf = 0;
  if (!ArgAddr(info, 0, "udpOpen", "addr", &addr) || !ArgInt(info, 1, "udpOpen", "port", 0, 65535, &port) ||
      !ArgInt(info, 2, "udpOpen", "bufBytes", 0, INT_MAX / 2, &buf))
    return env.Undefined();

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Num(env, -errno);
  int rc = 0;
  if (buf > 0) {
    // As wireguard-go and flannel: the value goes to the kernel as is (it doubles it for bookkeeping,
    // socket(7)), so bufBytes is roughly the payload the socket can queue.
    int bytes = static_cast<int>(buf);
    rc = SetBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, bytes);
    if (rc == 0) rc = SetBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, bytes);
  }
  if (rc == 0) {
    struct sockaddr_in sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(addr);
    if (bind(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) < 0) rc = -errno;
  }
  if (rc < 0) {
    close(fd);
    return Num(env, rc);
  }
  return Num(env, fd);
}

// udpLocalPort(fd): the port fd is bound to (getsockname), or -errno.
Napi::Value UdpLocalPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd = 0;
  if (!ArgInt(info, 0, "udpLocalPort", "fd", INT32_MIN, INT32_MAX, &fd)) return env.Undefined();
  if (fd < 0) return Num(env, -EBADF);
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  std::memset(&sa, 0, sizeof sa);
  if (getsockname(static_cast<int>(fd), reinterpret_cast<struct sockaddr*>(&sa), &len) < 0) return Num(env, -errno);
  if (sa.sin_family != AF_INET) return Num(env, -EAFNOSUPPORT);
  return Num(env, ntohs(sa.sin_port));
}

}  // namespace tartan

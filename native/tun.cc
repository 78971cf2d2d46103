// TUN devices: open /dev/net/tun and attach to (or create) a layer-3 device, and ask a fd for its name.
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "args.h"
#include "functions.h"

namespace tartan {

// tunOpen(name, vnetHdr?): opens /dev/net/tun with IFF_TUN|IFF_NO_PI (bare IP packets, no packet-info
// prefix), O_NONBLOCK|O_CLOEXEC, plus IFF_VNET_HDR when vnetHdr is true (every frame then carries a
// virtio-net header: the offload paths in tun_offload.cc). An empty name or a %d pattern lets the kernel
// pick. fd or -errno.
Napi::Value TunOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!ArgString(info, 0, "tunOpen", "name", &name)) return env.Undefined();
  bool vnet = false;
  if (info.Length() > 1 && !info[1].IsUndefined() && !ArgBool(info, 1, "tunOpen", "vnetHdr", &vnet)) return env.Undefined();
  if (!name.empty() && !ValidIfName(name)) return Num(env, -EINVAL);

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Num(env, -errno);
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return Num(env, -err);
  }
  return Num(env, fd);
}

// tunName(fd): the kernel's name of the TUN device attached to fd (TUNGETIFF), or -errno.
Napi::Value TunName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd = 0;
  if (!ArgInt(info, 0, "tunName", "fd", INT32_MIN, INT32_MAX, &fd)) return env.Undefined();
  if (fd < 0) return Num(env, -EBADF);
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  if (ioctl(static_cast<int>(fd), TUNGETIFF, &ifr) < 0) return Num(env, -errno);
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  return Napi::String::New(env, ifr.ifr_name);
}

}  // namespace tartan

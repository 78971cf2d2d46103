// Link, address and route configuration over rtnetlink (RFC 3549, rtnetlink(7)). Each call opens a fresh
// NETLINK_ROUTE socket, so it acts in the calling thread's current network namespace, sends one request
// with NLM_F_ACK and returns the errno carried by the kernel's NLMSG_ERROR answer (0 = acknowledged).
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>

#include "args.h"
#include "functions.h"

namespace tartan {
namespace {

// A request: header, one family message and a few attributes; 512 bytes is far more than any needs.
struct Request {
  struct nlmsghdr hdr;
  char payload[512];
};

// Starts a request of `type` with `flags` (NLM_F_REQUEST|NLM_F_ACK added) and returns where the family
// message of `len` bytes goes (zeroed).
void* Begin(Request* req, uint16_t type, uint16_t flags, size_t len) {
  std::memset(req, 0, sizeof *req);
  req->hdr.nlmsg_len = NLMSG_LENGTH(len);
  req->hdr.nlmsg_type = type;
  req->hdr.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
  return NLMSG_DATA(&req->hdr);
}

// Appends attribute `type` with `len` bytes of `data` (RTA alignment).
void AddAttr(Request* req, uint16_t type, const void* data, size_t len) {
  size_t at = NLMSG_ALIGN(req->hdr.nlmsg_len);
  struct rtattr* rta = reinterpret_cast<struct rtattr*>(reinterpret_cast<char*>(req) + at);
  rta->rta_type = type;
  rta->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
  std::memcpy(RTA_DATA(rta), data, len);
  req->hdr.nlmsg_len = static_cast<uint32_t>(at + RTA_ALIGN(rta->rta_len));
}

void AddU32(Request* req, uint16_t type, uint32_t v) { AddAttr(req, type, &v, sizeof v); }

// Sends req on a fresh NETLINK_ROUTE socket and waits for its acknowledgement. 0 or -errno.
int Transact(Request* req) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -errno;
  // The kernel answers synchronously; the timeout only guards the event loop against the unexpected.
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  // Ask the kernel not to echo the request back inside the error message.
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);

  static std::atomic<uint32_t> seq_counter{0};
  uint32_t seq = ++seq_counter;
  req->hdr.nlmsg_seq = seq;
  struct sockaddr_nl kernel;
  std::memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = sendto(fd, req, req->hdr.nlmsg_len, 0, reinterpret_cast<struct sockaddr*>(&kernel), sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    int err = errno;
    close(fd);
    return -err;
  }

  alignas(struct nlmsghdr) char buf[8192];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno == EAGAIN ? ETIMEDOUT : errno;
      close(fd);
      return -err;
    }
    size_t left = static_cast<size_t>(n);
    for (struct nlmsghdr* h = reinterpret_cast<struct nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
          close(fd);
          return -EPROTO;
        }
        const struct nlmsgerr* e = static_cast<const struct nlmsgerr*>(NLMSG_DATA(h));
        close(fd);
        return e->error <= 0 ? e->error : -e->error;
      }
      if (h->nlmsg_type == NLMSG_DONE) {
        close(fd);
        return 0;
      }
    }
  }
}

// Reads info[0] as an interface name and resolves its index; on success returns true with *index set,
// else *result holds the value to return (undefined after a TypeError, or -errno).
bool LinkArg(const Napi::CallbackInfo& info, const char* fn, int* index, Napi::Value* result) {
  Napi::Env env = info.Env();
  std::string name;
  if (!ArgString(info, 0, fn, "name", &name)) {
    *result = env.Undefined();
    return false;
  }
  if (!ValidIfName(name)) {
    *result = Num(env, -EINVAL);
    return false;
  }
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) {
    *result = Num(env, -(errno != 0 ? errno : ENODEV));
    return false;
  }
  *index = static_cast<int>(idx);
  return true;
}

// RTM_SETLINK on link `index` with ifi_flags/ifi_change and an optional IFLA_MTU.
int SetLink(int index, unsigned flags, unsigned change, bool set_mtu, uint32_t mtu) {
  Request req;
  struct ifinfomsg* ifi = static_cast<struct ifinfomsg*>(Begin(&req, RTM_SETLINK, 0, sizeof(struct ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = flags;
  ifi->ifi_change = change;
  if (set_mtu) AddU32(&req, IFLA_MTU, mtu);
  return Transact(&req);
}

// Shared by routeAdd and routeDel: reads (name, dst, prefixLen, gateway) and sends RTM_NEWROUTE
// (create, exclusive) or RTM_DELROUTE for dst/prefixLen out of the link, in the main table.
Napi::Value Route(const Napi::CallbackInfo& info, const char* fn, bool add) {
  Napi::Env env = info.Env();
  int index = 0;
  Napi::Value early;
  // Check every argument's type before touching the system.
  uint32_t dst = 0, gateway = 0;
  int64_t prefix = 0;
  if (!info[0].IsString()) {
    ThrowType(env, fn, "name must be a string");
    return env.Undefined();
  }
  if (!ArgAddr(info, 1, fn, "dst", &dst) || !ArgInt(info, 2, fn, "prefixLen", 0, 32, &prefix) ||
      !ArgAddr(info, 3, fn, "gateway", &gateway))
    return env.Undefined();
  if (!LinkArg(info, fn, &index, &early)) return early;

  Request req;
  struct rtmsg* rtm = static_cast<struct rtmsg*>(
      Begin(&req, add ? RTM_NEWROUTE : RTM_DELROUTE, add ? (NLM_F_CREATE | NLM_F_EXCL) : 0, sizeof(struct rtmsg)));
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = static_cast<unsigned char>(prefix);
  rtm->rtm_table = RT_TABLE_MAIN;
  if (add) {
    // As `ip route add`: boot protocol, unicast; link scope when directly connected.
    rtm->rtm_protocol = RTPROT_BOOT;
    rtm->rtm_type = RTN_UNICAST;
    rtm->rtm_scope = gateway == 0 ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  } else {
    // As `ip route del`: scope NOWHERE and protocol/type 0 match any route with this prefix, link, gateway.
    rtm->rtm_scope = RT_SCOPE_NOWHERE;
  }
  if (prefix > 0) AddU32(&req, RTA_DST, htonl(dst));
  AddU32(&req, RTA_OIF, static_cast<uint32_t>(index));
  if (gateway != 0) AddU32(&req, RTA_GATEWAY, htonl(gateway));
  return Num(env, Transact(&req));
}

}  // namespace

// linkIndex(name): the link's interface index in the current namespace, or -errno (-ENODEV when absent).
Napi::Value LinkIndex(const Napi::CallbackInfo& info) {
  int index = 0;
  Napi::Value early;
  if (!LinkArg(info, "linkIndex", &index, &early)) return early;
  return Num(info.Env(), index);
}

// linkSetMtu(name, mtu): 0 or -errno.
Napi::Value LinkSetMtu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t mtu = 0;
  if (!info[0].IsString()) {
    ThrowType(env, "linkSetMtu", "name must be a string");
    return env.Undefined();
  }
  if (!ArgInt(info, 1, "linkSetMtu", "mtu", 0, INT32_MAX, &mtu)) return env.Undefined();
  int index = 0;
  Napi::Value early;
  if (!LinkArg(info, "linkSetMtu", &index, &early)) return early;
  return Num(env, SetLink(index, 0, 0, true, static_cast<uint32_t>(mtu)));
}

// linkSetUp(name, up): sets or clears IFF_UP. 0 or -errno.
Napi::Value LinkSetUp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool up = false;
  if (!info[0].IsString()) {
    ThrowType(env, "linkSetUp", "name must be a string");
    return env.Undefined();
  }
  if (!ArgBool(info, 1, "linkSetUp", "up", &up)) return env.Undefined();
  int index = 0;
  Napi::Value early;
  if (!LinkArg(info, "linkSetUp", &index, &early)) return early;
  return Num(env, SetLink(index, up ? IFF_UP : 0, IFF_UP, false, 0));
}

// linkDelete(name): RTM_DELLINK. 0 or -errno.
Napi::Value LinkDelete(const Napi::CallbackInfo& info) {
  int index = 0;
  Napi::Value early;
  if (!LinkArg(info, "linkDelete", &index, &early)) return early;
  Request req;
  struct ifinfomsg* ifi = static_cast<struct ifinfomsg*>(Begin(&req, RTM_DELLINK, 0, sizeof(struct ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  return Num(info.Env(), Transact(&req));
}

// addrAdd(name, addr, prefixLen): RTM_NEWADDR (create, exclusive) with IFA_LOCAL = IFA_ADDRESS = addr, as
// `ip addr add addr/prefixLen dev name`. 0 or -errno (-EEXIST when the address is already there).
Napi::Value AddrAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t addr = 0;
  int64_t prefix = 0;
  if (!info[0].IsString()) {
    ThrowType(env, "addrAdd", "name must be a string");
    return env.Undefined();
  }
  if (!ArgAddr(info, 1, "addrAdd", "addr", &addr) || !ArgInt(info, 2, "addrAdd", "prefixLen", 0, 32, &prefix))
    return env.Undefined();
  int index = 0;
  Napi::Value early;
  if (!LinkArg(info, "addrAdd", &index, &early)) return early;

  Request req;
  struct ifaddrmsg* ifa = static_cast<struct ifaddrmsg*>(
      Begin(&req, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<unsigned char>(prefix);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<unsigned>(index);
  AddU32(&req, IFA_LOCAL, htonl(addr));
  AddU32(&req, IFA_ADDRESS, htonl(addr));
  return Num(env, Transact(&req));
}

// routeAdd(name, dst, prefixLen, gateway): 0 or -errno (-EEXIST when present).
Napi::Value RouteAdd(const Napi::CallbackInfo& info) { return Route(info, "routeAdd", true); }

// routeDel(name, dst, prefixLen, gateway): 0 or -errno (-ESRCH when absent).
Napi::Value RouteDel(const Napi::CallbackInfo& info) { return Route(info, "routeDel", false); }

}  // namespace tartan

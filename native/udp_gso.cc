// UDP with segmentation offload (UDP_SEGMENT: one sendmsg carries many equal-sized datagrams) and receive
// coalescing (UDP_GRO: one recvmsg returns many datagrams of one sender, with their size in a cmsg).
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "args.h"
#include "batch.h"
#include "batch_io.h"
#include "functions.h"
#include "offload_state.h"

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace tartan {
namespace {

constexpr size_t kSegCmsgSpace = CMSG_SPACE(sizeof(uint16_t));

inline uint8_t* SlotAt(Batch* b, uint32_t i) {
  return b->slab + static_cast<size_t>(i) * b->slot_size + b->headroom;
}

inline void SetEntry(Batch* b, uint32_t e, const uint8_t* at, uint32_t len, uint32_t addr, uint16_t port, int status) {
  b->offsets[e] = static_cast<uint32_t>(at - b->slab);
  b->lengths[e] = len;
  b->addrs[e] = addr;
  b->ports[e] = port;
  b->status[e] = status;
}

// Clears an error a partial sendmmsg parked on the socket (see UdpSendPlain).
void ClearSocketError(int fd) {
  int pending = 0;
  socklen_t len = sizeof pending;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &len);
}

// Groups packets from i on into at most kMaxMsgs messages: consecutive packets to one destination whose
// sizes are equal (the last of a group may be shorter) share a message with a UDP_SEGMENT cmsg, iovecs
// pointing into the slab. Packets before no_gso_until go one per message. Returns the number of groups;
// *next is the index after the last grouped packet (it stops before a packet outside the slab).
uint32_t BuildGroups(Batch* b, UdpOffload* st, uint32_t i, uint32_t end, uint32_t no_gso_until, uint32_t* next) {
  uint32_t g = 0, j = i;
  while (j < end && g < kMaxMsgs && InSlab(b, j)) {
    const uint32_t first = j;
    const uint32_t size = b->lengths[j];
    uint32_t total = size, k = j + 1;
    if (j >= no_gso_until && size > 0) {
      while (k < end && k - first < kGsoMaxSegments && InSlab(b, k) && b->addrs[k] == b->addrs[first] &&
             b->ports[k] == b->ports[first] && b->lengths[k] > 0 && b->lengths[k] <= size &&
             total + b->lengths[k] <= kMaxUdpPayload) {
        total += b->lengths[k];
        k++;
        if (b->lengths[k - 1] < size) break;  // a shorter datagram must be the last of its message
      }
    }
    for (uint32_t q = first; q < k; q++) {
      b->iovs[q].iov_base = b->slab + b->offsets[q];
      b->iovs[q].iov_len = b->lengths[q];
    }
    struct msghdr* h = &st->send_msgs[g].msg_hdr;
    PrepareSendMsg(h, &st->send_names[g], b->addrs[first], b->ports[first], &b->iovs[first], k - first);
    if (k - first > 1) {
      uint8_t* buf = st->send_cmsg.get() + static_cast<size_t>(g) * kSegCmsgSpace;
      std::memset(buf, 0, kSegCmsgSpace);
      h->msg_control = buf;
      h->msg_controllen = kSegCmsgSpace;
      struct cmsghdr* c = CMSG_FIRSTHDR(h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      const uint16_t seg = static_cast<uint16_t>(size);
      std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
    st->group_first[g] = first;
    st->group_end[g] = k;
    g++;
    j = k;
  }
  *next = j;
  return g;
}

// udpSend with GSO; same contract as UdpSendPlain. A GSO message refused with EIO or EOPNOTSUPP (the device
// cannot checksum, the kernel lacks it), or with EINVAL before any GSO send went through, turns GSO off for
// good. EMSGSIZE (a segment above the path MTU: udp_send_skb) and a later EINVAL resend that one group a
// datagram per message, where IP may fragment what GSO may not.
uint32_t UdpSendGso(int fd, Batch* b, UdpOffload* st, uint32_t start, uint32_t end) {
  uint32_t i = start, no_gso_until = start;
  while (i < end) {
    if (!st->gso) return UdpSendPlain(fd, b, i, end);
    if (!InSlab(b, i)) {
      b->status[i] = EINVAL;
      i++;
      continue;
    }
    uint32_t next = i;
    const uint32_t g = BuildGroups(b, st, i, end, no_gso_until, &next);
    uint32_t sent = 0;
    bool rebuild = false;
    while (sent < g) {
      int n = sendmmsg(fd, &st->send_msgs[sent], g - sent, MSG_DONTWAIT);
      if (n < 0) {
        const int e = errno;
        if (e == EINTR) continue;
        const uint32_t gf = st->group_first[sent], ge = st->group_end[sent];
        if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) return gf;
        if (ge - gf > 1 && (e == EIO || e == EINVAL || e == EOPNOTSUPP || e == EMSGSIZE)) {
          st->stats[kUdpGsoFallbacks]++;
          if (e == EIO || e == EOPNOTSUPP || (e == EINVAL && !st->gso_proven)) {
            st->gso = false;
          } else {
            no_gso_until = ge;  // this group only: its segment exceeds the path MTU (a plain send fragments)
          }
          i = gf;
          rebuild = true;
          break;
        }
        for (uint32_t q = gf; q < ge; q++) b->status[q] = e;  // refused; the rest are tried again
        sent++;
        continue;
      }
      for (uint32_t x = sent; x < sent + static_cast<uint32_t>(n); x++) {
        const uint32_t gf = st->group_first[x], ge = st->group_end[x];
        for (uint32_t q = gf; q < ge; q++) b->status[q] = 0;
        if (ge - gf > 1) {
          st->gso_proven = true;
          st->stats[kUdpGsoSends]++;
          st->stats[kUdpGsoDatagrams] += ge - gf;
        }
      }
      sent += static_cast<uint32_t>(n);
      if (sent < g) ClearSocketError(fd);
    }
    if (!rebuild) i = next;
  }
  return end;
}

// Points receive message j at iovlen iovecs, its source-address slot and its cmsg buffer (for UDP_GRO).
void PrepareRecvMsg(UdpOffload* st, uint32_t j, struct iovec* iov, size_t iovlen) {
  struct msghdr* h = &st->recv_msgs[j].msg_hdr;
  h->msg_name = &st->recv_names[j];
  h->msg_namelen = sizeof(struct sockaddr_in);
  h->msg_iov = iov;
  h->msg_iovlen = iovlen;
  h->msg_control = st->recv_cmsg[j];
  h->msg_controllen = sizeof st->recv_cmsg[j];
  h->msg_flags = 0;
  st->recv_msgs[j].msg_len = 0;
}

// The gso_size of a received message (its UDP_GRO cmsg), 0 when it holds one datagram.
uint32_t GroSize(struct msghdr* h) {
  for (struct cmsghdr* c = CMSG_FIRSTHDR(h); c != nullptr; c = CMSG_NXTHDR(h, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int v = 0;
      std::memcpy(&v, CMSG_DATA(c), sizeof v);
      return v > 0 ? static_cast<uint32_t>(v) : 0;
    }
  }
  return 0;
}

// Splits carried datagrams into entries [i, limit), copying from their regions. Returns the next entry.
uint32_t DrainCarry(UdpOffload* st, Batch* b, uint32_t i, uint32_t limit) {
  const size_t room = b->slot_size - b->headroom;
  while (st->carry_next < st->carry_end && i < limit) {
    const uint32_t q = st->carry_next;
    const uint32_t len = st->carry_len[q];
    const uint32_t gso = st->carry_gso[q] != 0 ? st->carry_gso[q] : len;
    const uint32_t seg = gso < len - st->carry_off ? gso : len - st->carry_off;
    const uint32_t copy = seg < room ? seg : static_cast<uint32_t>(room);
    uint8_t* dst = SlotAt(b, i);
    std::memcpy(dst, st->regions.get() + q * st->region + st->carry_off, copy);
    SetEntry(b, i, dst, copy, st->carry_addr[q], st->carry_port[q], seg > room ? EMSGSIZE : 0);
    st->stats[kUdpCarried]++;
    i++;
    st->carry_off += seg;
    if (st->carry_off >= len) {
      st->carry_next++;
      st->carry_off = 0;
    }
  }
  return i;
}

// Records messages [j, n) of the last receive as carried to the next calls (message j from byte off on):
// length, GRO segment size and sender of each, from its mmsghdr and name.
void RecordCarried(UdpOffload* st, uint32_t j, uint32_t n, uint32_t off) {
  for (uint32_t q = j; q < n; q++) {
    struct mmsghdr* m = &st->recv_msgs[q];
    st->carry_len[q] = m->msg_len;
    st->carry_gso[q] = GroSize(&m->msg_hdr);
    SenderOf(m->msg_hdr, st->recv_names[q], &st->carry_addr[q], &st->carry_port[q]);
  }
  st->carry_next = j;
  st->carry_end = n;
  st->carry_off = off;
}

// Keeps messages [j, n) of the last receive (message j from byte off) for the next calls: each is made
// contiguous in its region (its first `room` bytes are in slot first + j, which the next call reuses).
void Carry(UdpOffload* st, Batch* b, uint32_t first, uint32_t j, uint32_t n, uint32_t off) {
  const size_t room = b->slot_size - b->headroom;
  for (uint32_t q = j; q < n; q++) {
    const uint32_t len = st->recv_msgs[q].msg_len;
    uint8_t* region = st->regions.get() + q * st->region;
    if (len > room) std::memmove(region + room, region, len - room);
    std::memcpy(region, SlotAt(b, first + q), len < room ? len : room);
  }
  RecordCarried(st, j, n, off);
}

// Bytes per message in the arena mode of UdpRecvGro: a whole coalesced message (at most 65535 bytes).
constexpr size_t kArenaRegion = 65536;

// The arena after a batch's slots, when its buffer has room for kRecvMsgs regions (UdpBind.createReadBatch).
uint8_t* ArenaOf(Batch* b) {
  const size_t slots = static_cast<size_t>(b->capacity) * b->slot_size;
  return b->slab_len >= slots + kRecvMsgs * kArenaRegion ? b->slab + slots : nullptr;
}

// Entries for datagrams of message q (in its arena region) from byte *off on, into [e, limit); advances
// *off. Returns the next entry. A datagram longer than a slot's room is cut to it and flagged EMSGSIZE, as
// udpRecv does, so what the engine sees does not depend on the receive mode.
uint32_t ArenaEntries(Batch* b, const uint8_t* region, uint32_t len, uint32_t gso, uint32_t addr, uint16_t port,
                      uint32_t* off, uint32_t e, uint32_t limit) {
  const uint32_t room = b->slot_size - b->headroom;
  const uint32_t step = gso != 0 ? gso : len;
  while (*off < len && e < limit) {
    const uint32_t seg = step < len - *off ? step : len - *off;
    SetEntry(b, e++, region + *off, seg < room ? seg : room, addr, port, seg > room ? EMSGSIZE : 0);
    *off += seg;
  }
  return e;
}

// UdpRecvGro over the arena: each message is received whole into its own 64 KiB region of the batch's
// buffer and every datagram's entry points into it: no byte is copied. Messages that do not fit the batch
// wait where they are; the call that hands them out receives nothing new (their regions are about to be
// reused). Count or -errno.
int UdpRecvGroArena(int fd, Batch* b, UdpOffload* st, uint32_t limit, uint8_t* arena) {
  uint32_t e = 0;
  if (st->carry_next < st->carry_end) {
    while (st->carry_next < st->carry_end && e < limit) {
      const uint32_t q = st->carry_next;
      const uint32_t before = e;
      e = ArenaEntries(b, arena + q * kArenaRegion, st->carry_len[q], st->carry_gso[q], st->carry_addr[q],
                       st->carry_port[q], &st->carry_off, e, limit);
      st->stats[kUdpCarried] += e - before;
      if (st->carry_off >= st->carry_len[q]) {
        st->carry_next++;
        st->carry_off = 0;
      }
    }
    return static_cast<int>(e);
  }
  uint32_t m = limit / (st->est_segments > 0 ? st->est_segments : 1);
  if (m < 1) m = 1;
  if (m > kRecvMsgs) m = kRecvMsgs;
  if (m > limit) m = limit;
  for (uint32_t j = 0; j < m; j++) {
    st->recv_iov[j] = {arena + j * kArenaRegion, kArenaRegion};
    PrepareRecvMsg(st, j, &st->recv_iov[j], 1);
  }
  int n;
  do {
    n = recvmmsg(fd, st->recv_msgs, m, MSG_DONTWAIT, nullptr);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
  uint32_t most = 1;
  for (uint32_t j = 0; j < static_cast<uint32_t>(n); j++) {
    struct mmsghdr* msg = &st->recv_msgs[j];
    const uint32_t len = msg->msg_len;
    const uint32_t gso = GroSize(&msg->msg_hdr);
    uint32_t addr;
    uint16_t port;
    SenderOf(msg->msg_hdr, st->recv_names[j], &addr, &port);
    const uint32_t segs = gso != 0 && len > gso ? (len + gso - 1) / gso : 1;
    if (segs > 1) {
      st->stats[kUdpGroReceives]++;
      st->stats[kUdpGroDatagrams] += segs;
    }
    if (segs > most) most = segs;
    uint32_t off = 0;
    e = ArenaEntries(b, arena + j * kArenaRegion, len, segs > 1 ? gso : 0, addr, port, &off, e, limit);
    if (off < len) {
      RecordCarried(st, j, static_cast<uint32_t>(n), off);
      break;
    }
  }
  st->est_segments = most >= st->est_segments ? most : (st->est_segments + most) / 2;
  return static_cast<int>(e);
}

// udpRecv with GRO: up to `limit` entries. Each message lands in its own slot first (a lone datagram is
// then already in place) and a 64 KiB region of the state after it; a coalesced message's datagram k >= 1
// is copied into a free slot after the messages' slots. Count or -errno.
int UdpRecvGro(int fd, Batch* b, UdpOffload* st, uint32_t limit) {
  uint8_t* arena = ArenaOf(b);
  if (arena != nullptr) {
    if (st->carry_arena != 1) st->carry_next = st->carry_end = st->carry_off = 0;  // batch changed mode
    st->carry_arena = 1;
    return UdpRecvGroArena(fd, b, st, limit, arena);
  }
  if (st->carry_arena != 0) st->carry_next = st->carry_end = st->carry_off = 0;
  st->carry_arena = 0;
  const size_t room = b->slot_size - b->headroom;
  if (st->region_room != room || !st->regions) {
    st->region = 65536 + room;
    st->regions.reset(new uint8_t[kRecvMsgs * st->region]);
    st->region_room = room;
    st->carry_next = st->carry_end = st->carry_off = 0;
  }
  uint32_t i = DrainCarry(st, b, 0, limit);
  if (st->carry_next < st->carry_end || i >= limit) return static_cast<int>(i);
  const uint32_t free_slots = limit - i;
  uint32_t m = free_slots / (st->est_segments > 0 ? st->est_segments : 1);
  if (m < 1) m = 1;
  if (m > kRecvMsgs) m = kRecvMsgs;
  if (m > free_slots) m = free_slots;
  for (uint32_t j = 0; j < m; j++) {
    st->recv_iov[2 * j] = {SlotAt(b, i + j), room};
    st->recv_iov[2 * j + 1] = {st->regions.get() + j * st->region, 65536};
    PrepareRecvMsg(st, j, &st->recv_iov[2 * j], 2);
  }
  int n;
  do {
    n = recvmmsg(fd, st->recv_msgs, m, MSG_DONTWAIT, nullptr);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || i > 0) return static_cast<int>(i);
    return -errno;
  }
  uint32_t extra = i + static_cast<uint32_t>(n);  // first slot free for datagrams 1.. of coalesced messages
  uint32_t e = i;
  uint32_t most = 1;
  for (uint32_t j = 0; j < static_cast<uint32_t>(n); j++) {
    struct mmsghdr* msg = &st->recv_msgs[j];
    const uint32_t len = msg->msg_len;
    const uint32_t gso = GroSize(&msg->msg_hdr);
    uint32_t addr;
    uint16_t port;
    SenderOf(msg->msg_hdr, st->recv_names[j], &addr, &port);
    uint8_t* slot = SlotAt(b, i + j);
    if (gso == 0 || len <= gso) {
      // One datagram; one larger than a slot is kept truncated and flagged, as udpRecv does.
      SetEntry(b, e++, slot, len < room ? len : static_cast<uint32_t>(room), addr, port, len > room ? EMSGSIZE : 0);
      continue;
    }
    const uint32_t segs = (len + gso - 1) / gso;
    if (segs > most) most = segs;
    st->stats[kUdpGroReceives]++;
    st->stats[kUdpGroDatagrams] += segs;
    SetEntry(b, e++, slot, gso < room ? gso : static_cast<uint32_t>(room), addr, port, gso > room ? EMSGSIZE : 0);
    const uint8_t* region = st->regions.get() + j * st->region;
    for (uint32_t off = gso; off < len; off += gso) {
      if (extra >= limit) {
        Carry(st, b, i, j, static_cast<uint32_t>(n), off);
        st->est_segments = most;
        return static_cast<int>(e);
      }
      const uint32_t seg = gso < len - off ? gso : len - off;
      const uint32_t want = seg < room ? seg : static_cast<uint32_t>(room);
      uint8_t* dst = SlotAt(b, extra++);
      // Bytes [off, off + want) of the message: the slot holds [0, room), the region the rest.
      uint32_t c = 0;
      if (off < room) {
        c = static_cast<uint32_t>(room) - off < want ? static_cast<uint32_t>(room) - off : want;
        std::memcpy(dst, slot + off, c);
      }
      if (c < want) std::memcpy(dst + c, region + (off + c - room), want - c);
      SetEntry(b, e++, dst, want, addr, port, seg > room ? EMSGSIZE : 0);
    }
  }
  // The next receive is sized for the largest message seen lately, decaying slowly, so a full batch of
  // coalesced messages rarely has to carry datagrams over.
  st->est_segments = most >= st->est_segments ? most : (st->est_segments + most) / 2;
  return static_cast<int>(e);
}

}  // namespace

// udpOffloadEnable(fd, gro): probes UDP_SEGMENT (getsockopt succeeds where the kernel has it, Linux 4.18)
// and, when gro, turns UDP_GRO on (Linux 5.0). Bits: 1 GSO available, 2 GRO on; or -errno for a bad fd.
Napi::Value UdpOffloadEnable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd = 0;
  bool gro = false;
  if (!ArgInt(info, 0, "udpOffloadEnable", "fd", INT32_MIN, INT32_MAX, &fd) ||
      !ArgBool(info, 1, "udpOffloadEnable", "gro", &gro))
    return env.Undefined();
  if (fd < 0) return Num(env, -EBADF);
  int bits = 0;
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(static_cast<int>(fd), SOL_UDP, UDP_SEGMENT, &v, &len) == 0) {
    bits |= 1;
  } else if (errno == EBADF || errno == ENOTSOCK) {
    return Num(env, -errno);
  }
  if (gro) {
    int one = 1;
    if (setsockopt(static_cast<int>(fd), SOL_UDP, UDP_GRO, &one, sizeof one) == 0) bits |= 2;
  }
  return Num(env, bits);
}

// udpSendOffload(fd, batch, start, count, state): udpSend with UDP_SEGMENT when the state has GSO on.
Napi::Value UdpSendOffload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  Batch* b = nullptr;
  int64_t start = 0, end = 0;
  Napi::Value result;
  if (!RangeArgs(info, "udpSendOffload", &fd, &b, &start, &end, &result)) return result;
  UdpOffload* st = UdpOffloadArg(info, 4, "udpSendOffload");
  if (st == nullptr) return env.Undefined();
  if (start < 0) return Num(env, -EINVAL);
  return Num(env, UdpSendGso(fd, b, st, static_cast<uint32_t>(start), static_cast<uint32_t>(end)));
}

// udpRecvOffload(fd, batch, max, state): udpRecv splitting UDP_GRO messages when the state has GRO on.
Napi::Value UdpRecvOffload(const Napi::CallbackInfo& info) {
  int fd = -1;
  Batch* b = nullptr;
  int64_t max = 0;
  Napi::Value result;
  if (!ReadArgs(info, "udpRecvOffload", &fd, &b, &max, &result)) return result;
  Napi::Env env = info.Env();
  UdpOffload* st = UdpOffloadArg(info, 3, "udpRecvOffload");
  if (st == nullptr) return env.Undefined();
  if (max < 0) return Num(env, -EINVAL);
  const uint32_t limit = static_cast<uint32_t>(max);
  if (!st->gro) return Num(env, UdpRecvPlain(fd, b, limit));
  return Num(env, UdpRecvGro(fd, b, st, limit));
}

}  // namespace tartan

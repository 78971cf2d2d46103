// Per-device and per-socket offload state: scratch memory allocated once when the state is created (never
// per call), a super-packet or received datagrams still being split across calls, and counters.
#pragma once

#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>

#include "batch.h"
#include "offload.h"
#include "virtio.h"

namespace tartan {

// Counters exposed by offloadStats, in this order (names in offload_api.cc).
enum TunStat {
  kTunReads,            // frames read
  kTunSuperPackets,     // GSO frames split
  kTunSegments,         // packets those frames became
  kTunCsumCompleted,    // NEEDS_CSUM frames finished
  kTunBadFrames,        // frames dropped: bad virtio header, inconsistent headers, too big for a slot
  kTunWrites,           // write() calls
  kTunMergedWrites,     // writes that carried a coalesced super-packet
  kTunMergedPackets,    // packets that went out inside those
  kTunSplitInPlace,     // super-packets whose scattered read put every payload in its slot (no copy)
  kTunStatCount
};

enum UdpStat {
  kUdpGsoSends,        // messages sent with UDP_SEGMENT (two datagrams or more)
  kUdpGsoDatagrams,    // datagrams inside them
  kUdpGroReceives,     // received messages that held two datagrams or more
  kUdpGroDatagrams,    // datagrams inside them
  kUdpGsoFallbacks,    // times GSO was refused (then off for good, or for one group: see udp_gso.cc)
  kUdpCarried,         // datagrams split in a later call because the batch was full
  kUdpStatCount
};

// Most iovecs of one scattered TUN read (virtio header, slots, scratch).
constexpr int kMaxReadIov = 130;

// Room for one read beyond the slot: a whole IPv6 super-packet (65535 payload + 40) and some slack.
constexpr size_t kTunScratch = 65536 + 128;

struct TunOffload {
  uint8_t vnet_in[kVnetHdrLen];
  uint8_t vnet_out[kVnetHdrLen];
  uint8_t vnet_zero[kVnetHdrLen] = {0};
  std::unique_ptr<uint8_t[]> scratch{new uint8_t[kTunScratch]};
  std::unique_ptr<uint8_t[]> pending{new uint8_t[kTunScratch]};
  uint8_t merged_hdr[SuperPacket::kMaxHeaders];
  SuperPacket sp;
  Coalescer coalescer{1024};  // batches hold at most 1024 packets (PacketBatch)
  std::unique_ptr<uint32_t[]> offs{new uint32_t[1024]};
  std::unique_ptr<uint32_t[]> lens{new uint32_t[1024]};
  struct iovec wiov[2 + Coalescer::kMaxSegments];
  // Scattered reads: the header length and segment size of the last super-packet, and the read's layout.
  uint32_t guess_hdr = 0, guess_gso = 0;
  bool last_gso = false;  // the previous frame was a super-packet: scatter the next read
  struct iovec riov[kMaxReadIov];
  int riov_n = 0;
  double stats[kTunStatCount] = {0};
};

// UDP GRO receive: up to kRecvMsgs messages per recvmmsg. With an arena in the batch's buffer (UdpBind.
// createReadBatch) each message lands whole in a 64 KiB region of it; otherwise in its slot and then a
// region of the state for the rest of a coalesced datagram.
constexpr uint32_t kRecvMsgs = 64;
// UDP_MAX_SEGMENTS of kernels before 6.x (later ones take 128): the most datagrams per GSO send.
constexpr uint32_t kGsoMaxSegments = 64;
// Largest UDP payload of one IPv4 datagram: 65535 - 20 (IP) - 8 (UDP).
constexpr uint32_t kMaxUdpPayload = 65507;

struct UdpOffload {
  bool gso = false;         // UDP_SEGMENT in use
  bool gso_proven = false;  // a GSO send went through
  bool gro = false;         // UDP_GRO on

  // Send: one cmsg buffer and one address per message of a sendmmsg, the first and end packet of each.
  std::unique_ptr<uint8_t[]> send_cmsg;
  std::unique_ptr<struct mmsghdr[]> send_msgs;
  std::unique_ptr<struct sockaddr_in[]> send_names;
  std::unique_ptr<uint32_t[]> group_first;
  std::unique_ptr<uint32_t[]> group_end;

  // Receive.
  size_t region = 0;  // bytes per message region (65536 + slot room), set on first receive
  size_t region_room = 0;
  std::unique_ptr<uint8_t[]> regions;
  struct mmsghdr recv_msgs[kRecvMsgs];
  struct iovec recv_iov[2 * kRecvMsgs];
  struct sockaddr_in recv_names[kRecvMsgs];
  uint8_t recv_cmsg[kRecvMsgs][64];
  uint32_t est_segments = 1;  // most datagrams per message in the last receive: sizes the next one
  // Datagrams received but not yet split (the batch was full): messages [carry_next, carry_end), each
  // contiguous in its region; carry_off bytes of message carry_next are already out.
  uint32_t carry_next = 0, carry_end = 0, carry_off = 0;
  int carry_arena = -1;  // which receive mode the carry belongs to (1 arena, 0 slot + region)
  uint32_t carry_len[kRecvMsgs], carry_gso[kRecvMsgs], carry_addr[kRecvMsgs];
  uint16_t carry_port[kRecvMsgs];

  double stats[kUdpStatCount] = {0};
};

// Resolves argument i to the state behind a handle from tunOffloadCreate / udpOffloadCreate; throws a
// TypeError and returns nullptr otherwise.
TunOffload* TunOffloadArg(const Napi::CallbackInfo& info, size_t i, const char* fn);
UdpOffload* UdpOffloadArg(const Napi::CallbackInfo& info, size_t i, const char* fn);

// The TUN read path after a readv: places or splits the frame (virtio header in st->vnet_in, n packet bytes,
// the first min(n, room) of them at slot i, the rest in st->scratch) into batch entries [i, limit). Returns
// how many entries it filled; leaves st->sp active (its rest saved) when the batch filled up first.
uint32_t TunIngest(TunOffload* st, Batch* b, uint32_t i, uint32_t limit, size_t n);

// The tunReadOffload loop on fd: the rest of a pending super-packet first, then reads (scattered once a
// super-packet's shape is known) until EAGAIN or `limit` entries. Returns the entries filled; *err is the
// errno of a hard error on the first read (then 0 entries).
uint32_t TunReadLoop(TunOffload* st, Batch* b, int fd, uint32_t limit, int* err);

// Emits the rest of a pending super-packet into entries [i, limit); returns how many it filled.
uint32_t TunDrain(TunOffload* st, Batch* b, uint32_t i, uint32_t limit);

// The TUN write path: plans packets [0, count) (tcp/udp: which may merge) and hands each planned write to
// sink(iov, iovcnt) (returns 0 or an errno); per-packet status as tunWrite. Returns the number of writes, or
// stops early (the rest marked EAGAIN) when the sink says EAGAIN.
using WriteSink = int (*)(void* ctx, const struct iovec* iov, int iovcnt);
uint32_t TunExecuteWrites(TunOffload* st, Batch* b, uint32_t count, bool tcp, bool udp, WriteSink sink, void* ctx);

}  // namespace tartan

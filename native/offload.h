// Offload byte-moving, free of syscalls so it can be tested with byte fixtures:
//  - segmentation: a super-packet the TUN device hands over with a virtio-net header (TSO/USO, up to 64 KiB)
//    is cut into packets of at most gso_size payload bytes, every header fixed up and every checksum
//    computed in full, the way the kernel's tcp/udp GSO would have put them on a wire;
//  - checksum completion: a packet with NEEDS_CSUM and no GSO gets its transport checksum finished;
//  - coalescing: runs of TCP (and, when the device takes USO, UDP) packets of one flow that the kernel's
//    GRO would merge are planned into super-packets with a virtio-net header, so one TUN write carries many.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "virtio.h"

namespace tartan {

// Why a super-packet was refused (negative results of PrepareSuperPacket).
enum SplitError : int {
  kSplitOk = 0,
  kSplitBadGsoType = 1,   // not TCPV4/TCPV6/UDP_L4, or a type that does not match the IP version
  kSplitBadHeader = 2,    // IP or transport header inconsistent with the virtio header, or truncated
  kSplitSegmentTooBig = 3,  // one segment would not fit the room of a slot
};

// A super-packet being cut into segments. The original headers are copied (segment 0 may be rewritten in
// place); the payload is read from up to two spans (the slot the read landed in, then scratch).
struct SuperPacket {
  static constexpr size_t kMaxHeaders = 256;  // IPv4 60 + TCP 60, or IPv6 with extension headers
  uint8_t hdr[kMaxHeaders];
  uint32_t ip_len = 0;       // bytes of IP header (csum_start)
  uint32_t hdr_len = 0;      // ip_len + transport header
  uint32_t gso_size = 0;     // payload bytes per segment
  uint32_t payload_len = 0;  // payload bytes in total
  uint32_t done = 0;         // payload bytes emitted so far
  uint32_t index = 0;        // segments emitted so far
  uint32_t seq0 = 0;         // TCP sequence number of segment 0
  uint16_t id0 = 0;          // IPv4 identification of segment 0
  uint8_t proto = 0;         // 6 (TCP) or 17 (UDP)
  bool v6 = false;
  bool active = false;       // segments remain
  // Payload bytes [span_off, payload_len) are span[0] followed by span[1].
  const uint8_t* span[2] = {nullptr, nullptr};
  uint32_t span_len[2] = {0, 0};
  uint32_t span_off = 0;
};

// Checks a GSO virtio header against the packet (its first `head` contiguous bytes at p, `len` bytes in all)
// and fills sp's header fields (not the spans). Never trusts hdr_len from the kernel (it may cover a whole
// packet on the forwarding path): the transport header length is read from the packet, as wireguard-go does.
// `room` is the space of one output slot. kSplitOk or a SplitError.
int PrepareSuperPacket(const VnetHdr& h, const uint8_t* p, size_t head, size_t len, size_t room, SuperPacket* sp);

// Writes the next segment of sp to dst (at most room bytes; dst may be the super-packet's own start for
// segment 0, whose bytes are then fixed in place). Returns the segment's length, or 0 when none is left.
uint32_t EmitSegment(SuperPacket* sp, uint8_t* dst, size_t room);

// Copies the payload sp has not emitted yet into buf (room for 65535 bytes) and points sp at it, so the
// memory the super-packet was read into may be reused before the remaining segments are emitted.
void SaveRemainder(SuperPacket* sp, uint8_t* buf);

// Finishes the checksum of a packet with NEEDS_CSUM and no GSO: the one's complement of the sum from
// csum_start to the end (the field holds the pseudo-header sum) at csum_start + csum_offset, 0 sent as
// 0xffff as the kernel's skb_checksum_help does. false when the offsets do not fit the packet.
bool CompleteChecksum(const VnetHdr& h, uint8_t* p, size_t len);

// True when the IPv4 TCP/UDP packet p[0, len) (no options checked here; ihl from the header) carries a
// valid transport checksum; a UDP packet with checksum 0 (none) is not "valid" for merging purposes.
bool TransportChecksumValid(const uint8_t* p, size_t len);

// One planned TUN write: a single packet, or a run of packets merged into a super-packet.
struct PlannedWrite {
  uint32_t first = 0;     // batch index of the head packet
  uint32_t last = 0;      // batch index of the last member
  uint32_t count = 0;     // members
  uint32_t bytes = 0;     // IP length of the merged packet (head headers + every payload)
  uint16_t gso_size = 0;  // payload of the head packet (each member but the last has exactly this)
  uint16_t last_payload = 0;
  uint8_t hdr_len = 0;    // IP + transport header length of the head
  uint8_t kind = 0;       // 0: not mergeable, kGsoTcpV4 or kGsoUdpL4
  bool psh = false;       // the last member had PSH (TCP): nothing may follow
  bool head_checked = false;  // the head's checksum was verified
  bool closed = false;    // nothing more may join
};

// Plans writes over a batch of IPv4 packets. Capacity is fixed at construction (no allocation later).
// Merge rules (the kernel's tcp4_gro_receive/udp_gro_receive and wireguard-go's tcpGRO, stricter where they
// differ): same addresses, ports and protocol; no IP options and no fragments; equal TOS, TTL and DF/reserved
// bits; IPv4 IDs consecutive unless DF is set; TCP: only ACK or ACK|PSH, equal ACK number, equal header
// length and options, sequence exactly following, PSH only on the last; every member but the last carries
// exactly gso_size payload bytes and the last at most that; at most kMaxSegments members and 65535 bytes;
// every member's transport checksum verified before it joins. Packets of one flow are never reordered: a
// packet of a flow that cannot join its open run closes that run, and any other packet between the same
// two addresses closes their runs.
class Coalescer {
 public:
  // At most 64 packets per merge, as the kernel's GRO (MAX_GRO_SKBS-era limit of 64 segments per skb,
  // UDP_GRO_CNT_MAX); it also bounds a write's iovecs (2 + 64).
  static constexpr uint32_t kMaxSegments = 64;
  // Flows with an open run at a time (the kernel keeps 8 GRO lists per NAPI, MAX_GRO_SKBS); the oldest
  // run is closed (not reordered) when a ninth flow shows up.
  static constexpr uint32_t kMaxOpen = 8;

  explicit Coalescer(uint32_t capacity);

  // Plans packets [0, n) (n <= capacity) of the slab described by offsets/lengths (each already checked to
  // lie inside the slab). tcp/udp say which protocols may merge. Returns the number of writes.
  uint32_t Plan(const uint8_t* slab, const uint32_t* offsets, const uint32_t* lengths, uint32_t n, bool tcp, bool udp);

  const PlannedWrite& write(uint32_t w) const { return writes_[w]; }
  // The member after packet i in its write, or UINT32_MAX after the last.
  uint32_t next(uint32_t i) const { return next_[i]; }

  // For a merged write (count > 1): writes the head's headers, fixed for the merged packet, to out (at least
  // hdr_len bytes) and the virtio header to vnet; returns hdr_len.
  uint32_t MergedHeaders(const uint8_t* slab, const uint32_t* offsets, uint32_t w, uint8_t* out, VnetHdr* vnet) const;

 private:
  struct Open {
    uint32_t write;
    uint32_t src, dst;
    uint16_t sport, dport;
    uint8_t proto;
  };
  void CloseFlowsBetween(uint32_t src, uint32_t dst);

  uint32_t capacity_;
  std::unique_ptr<PlannedWrite[]> writes_;
  std::unique_ptr<uint32_t[]> next_;
  Open open_[kMaxOpen];
  uint32_t open_count_ = 0;
  uint32_t open_evict_ = 0;
};

}  // namespace tartan

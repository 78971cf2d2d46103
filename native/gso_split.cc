// Segmentation of TUN super-packets (TSO/USO) and checksum completion; see offload.h.
#include <algorithm>
#include <cstring>

#include "checksum.h"
#include "offload.h"

namespace tartan {
namespace {

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpCwr = 0x80;
constexpr size_t kTcpFlags = 13;
constexpr size_t kTcpCsum = 16;
constexpr size_t kUdpLen = 4;
constexpr size_t kUdpCsum = 6;

// Copies n payload bytes starting at payload offset off from sp's spans to dst (no-op where dst already
// holds them: segment 0 rewritten in place).
void GatherPayload(const SuperPacket& sp, uint32_t off, uint32_t n, uint8_t* dst) {
  off -= sp.span_off;
  if (off < sp.span_len[0]) {
    uint32_t c = std::min(n, sp.span_len[0] - off);
    const uint8_t* src = sp.span[0] + off;
    if (src != dst) std::memmove(dst, src, c);
    dst += c;
    off += c;
    n -= c;
  }
  if (n > 0) {
    const uint8_t* src = sp.span[1] + (off - sp.span_len[0]);
    if (src != dst) std::memmove(dst, src, n);
  }
}

}  // namespace

int PrepareSuperPacket(const VnetHdr& h, const uint8_t* p, size_t head, size_t len, size_t room, SuperPacket* sp) {
  const uint8_t type = h.gso_type & static_cast<uint8_t>(~kGsoEcn);
  if (type != kGsoTcpV4 && type != kGsoTcpV6 && type != kGsoUdpL4) return kSplitBadGsoType;
  if (head < 20 || head > len) return kSplitBadHeader;
  const uint8_t version = p[0] >> 4;
  // IPv4 total length and IPv6 payload length are 16-bit fields: no bigger super-packet can be rewritten.
  if (len > kMaxSuperPacket + (version == 6 ? 40u : 0u)) return kSplitBadHeader;
  const uint32_t ip_len = h.csum_start;
  if (version == 4) {
    if (type == kGsoTcpV6) return kSplitBadGsoType;
    const uint32_t ihl = (p[0] & 15u) * 4;
    if (ihl < 20 || ihl != ip_len) return kSplitBadHeader;
    // A fragment cannot be a GSO packet.
    if ((Be16(p + 6) & 0x3fff) != 0) return kSplitBadHeader;
    const uint8_t want = type == kGsoUdpL4 ? 17 : 6;
    if (p[9] != want) return kSplitBadHeader;
  } else if (version == 6) {
    if (type == kGsoTcpV4) return kSplitBadGsoType;
    if (head < 40 || ip_len < 40) return kSplitBadHeader;
    // Extension headers sit between 40 and csum_start; the upper-layer protocol is the GSO type's.
  } else {
    return kSplitBadHeader;
  }
  uint32_t l4_len;
  uint8_t proto;
  if (type == kGsoUdpL4) {
    l4_len = 8;
    proto = 17;
  } else {
    if (ip_len + 13 >= head) return kSplitBadHeader;
    l4_len = (p[ip_len + 12] >> 4) * 4u;
    if (l4_len < 20 || l4_len > 60) return kSplitBadHeader;
    proto = 6;
  }
  const uint32_t hdr_len = ip_len + l4_len;
  if (hdr_len > SuperPacket::kMaxHeaders || hdr_len > head || hdr_len >= len) return kSplitBadHeader;
  if (h.gso_size == 0) return kSplitBadHeader;
  if (hdr_len + h.gso_size > room) return kSplitSegmentTooBig;
  std::memcpy(sp->hdr, p, hdr_len);
  sp->ip_len = ip_len;
  sp->hdr_len = hdr_len;
  sp->gso_size = h.gso_size;
  sp->payload_len = static_cast<uint32_t>(len - hdr_len);
  sp->done = 0;
  sp->index = 0;
  sp->proto = proto;
  sp->v6 = version == 6;
  sp->seq0 = proto == 6 ? Be32(p + ip_len + 4) : 0;
  sp->id0 = version == 4 ? Be16(p + 4) : 0;
  sp->span_off = 0;
  sp->active = true;
  return kSplitOk;
}

uint32_t EmitSegment(SuperPacket* sp, uint8_t* dst, size_t room) {
  if (!sp->active || sp->done >= sp->payload_len) {
    sp->active = false;
    return 0;
  }
  const uint32_t n = std::min(sp->gso_size, sp->payload_len - sp->done);
  const uint32_t hl = sp->hdr_len;
  const uint32_t total = hl + n;
  if (total > room) return 0;  // PrepareSuperPacket checked hdr_len + gso_size against the same room
  const bool last = sp->done + n >= sp->payload_len;
  std::memcpy(dst, sp->hdr, hl);  // the saved original: segment 0 in place gets its own bytes back
  GatherPayload(*sp, sp->done, n, dst + hl);

  const uint32_t ip_len = sp->ip_len;
  const uint32_t l4_total = total - ip_len;
  if (!sp->v6) {
    PutBe16(dst + 2, static_cast<uint16_t>(total));
    PutBe16(dst + 4, static_cast<uint16_t>(sp->id0 + sp->index));  // as the kernel's inet_gso_segment
    Ipv4HeaderChecksum(dst, ip_len);
  } else {
    PutBe16(dst + 4, static_cast<uint16_t>(total - 40));
  }
  uint8_t* l4 = dst + ip_len;
  uint64_t sum;
  if (sp->proto == 6) {
    PutBe32(l4 + 4, sp->seq0 + sp->done);
    // As tcp_gso_segment: FIN and PSH only on the last segment, CWR only on the first.
    if (!last) l4[kTcpFlags] &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
    if (sp->index > 0) l4[kTcpFlags] &= static_cast<uint8_t>(~kTcpCwr);
    l4[kTcpCsum] = 0;
    l4[kTcpCsum + 1] = 0;
    sum = sp->v6 ? PseudoSum6(dst, 6, l4_total) : PseudoSum4(dst, 6, l4_total);
    uint16_t c = static_cast<uint16_t>(~CsumFold(CsumAdd(sum, l4, l4_total)));
    StoreMem16(l4 + kTcpCsum, c);
  } else {
    PutBe16(l4 + kUdpLen, static_cast<uint16_t>(l4_total));
    l4[kUdpCsum] = 0;
    l4[kUdpCsum + 1] = 0;
    sum = sp->v6 ? PseudoSum6(dst, 17, l4_total) : PseudoSum4(dst, 17, l4_total);
    uint16_t c = static_cast<uint16_t>(~CsumFold(CsumAdd(sum, l4, l4_total)));
    StoreMem16(l4 + kUdpCsum, c == 0 ? 0xffff : c);  // RFC 768: a computed 0 is sent as all ones
  }
  sp->done += n;
  sp->index++;
  if (last) sp->active = false;
  return total;
}

void SaveRemainder(SuperPacket* sp, uint8_t* buf) {
  if (!sp->active) return;
  const uint32_t rest = sp->payload_len - sp->done;
  GatherPayload(*sp, sp->done, rest, buf);
  sp->span[0] = buf;
  sp->span_len[0] = rest;
  sp->span[1] = nullptr;
  sp->span_len[1] = 0;
  sp->span_off = sp->done;
}

bool CompleteChecksum(const VnetHdr& h, uint8_t* p, size_t len) {
  const size_t start = h.csum_start, at = static_cast<size_t>(h.csum_start) + h.csum_offset;
  if (start >= len || at + 2 > len) return false;
  uint16_t c = static_cast<uint16_t>(~CsumFold(CsumAdd(0, p + start, len - start)));
  StoreMem16(p + at, c == 0 ? 0xffff : c);
  return true;
}

bool TransportChecksumValid(const uint8_t* p, size_t len) {
  const size_t ihl = (p[0] & 15u) * 4;
  if (len < ihl + 8) return false;
  const uint8_t proto = p[9];
  if (proto == 17 && LoadMem16(p + ihl + kUdpCsum) == 0) return false;
  uint64_t sum = PseudoSum4(p, proto, static_cast<uint32_t>(len - ihl));
  return CsumFold(CsumAdd(sum, p + ihl, len - ihl)) == 0xffff;
}

}  // namespace tartan

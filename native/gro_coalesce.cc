// Coalescing of TCP/UDP runs into super-packets for one TUN write each; see offload.h for the rules.
#include <climits>
#include <cstring>

#include "checksum.h"
#include "offload.h"

namespace tartan {
namespace {

constexpr uint8_t kTcpAck = 0x10;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kIpv4Df = 0x40;  // in byte 6
constexpr uint32_t kNone = UINT32_MAX;

// What Plan needs to know about one packet.
struct Parsed {
  bool ipv4 = false;  // a readable IPv4 header (addresses valid)
  uint8_t kind = 0;   // kGsoTcpV4 / kGsoUdpL4 when it may merge, else 0
  uint8_t proto = 0;
  uint32_t src = 0, dst = 0;
  uint16_t sport = 0, dport = 0;
  uint32_t hdr_len = 0;
  uint32_t payload = 0;
};

Parsed Classify(const uint8_t* p, uint32_t len, bool tcp, bool udp) {
  Parsed c;
  if (len < 20 || (p[0] >> 4) != 4) return c;
  c.ipv4 = true;
  c.src = Be32(p + 12);
  c.dst = Be32(p + 16);
  c.proto = p[9];
  // IP options, a total length that disagrees, or any fragment: never merged.
  if ((p[0] & 15) != 5 || Be16(p + 2) != len || (Be16(p + 6) & 0x3fff) != 0) return c;
  if (c.proto == 6 && tcp) {
    if (len < 40) return c;
    const uint32_t thl = (p[32] >> 4) * 4u;
    if (thl < 20 || 20 + thl >= len) return c;  // also excludes an empty payload
    const uint8_t flags = p[33];
    if (flags != kTcpAck && flags != (kTcpAck | kTcpPsh)) return c;
    c.hdr_len = 20 + thl;
  } else if (c.proto == 17 && udp) {
    if (len <= 28 || Be16(p + 24) != len - 20) return c;
    c.hdr_len = 28;
  } else {
    return c;
  }
  c.sport = Be16(p + 20);
  c.dport = Be16(p + 22);
  c.payload = len - c.hdr_len;
  c.kind = c.proto == 6 ? kGsoTcpV4 : kGsoUdpL4;
  return c;
}

// Outcome of trying to append a packet to its flow's open run.
enum Append { kAppended, kRefused, kBadPacket };

}  // namespace

Coalescer::Coalescer(uint32_t capacity)
    : capacity_(capacity), writes_(new PlannedWrite[capacity]), next_(new uint32_t[capacity]) {}

void Coalescer::CloseFlowsBetween(uint32_t src, uint32_t dst) {
  uint32_t k = 0;
  while (k < open_count_) {
    if (open_[k].src == src && open_[k].dst == dst) {
      open_[k] = open_[--open_count_];
    } else {
      k++;
    }
  }
}

uint32_t Coalescer::Plan(const uint8_t* slab, const uint32_t* offsets, const uint32_t* lengths, uint32_t n, bool tcp,
                         bool udp) {
  if (n > capacity_) n = capacity_;
  open_count_ = 0;
  open_evict_ = 0;
  uint32_t nw = 0;
  for (uint32_t i = 0; i < n; i++) {
    next_[i] = kNone;
    const uint8_t* p = slab + offsets[i];
    const uint32_t len = lengths[i];
    const Parsed c = Classify(p, len, tcp, udp);
    if (c.kind == 0) {
      if (c.ipv4) {
        CloseFlowsBetween(c.src, c.dst);
      } else {
        open_count_ = 0;
      }
      PlannedWrite& w = writes_[nw++];
      w = PlannedWrite();
      w.first = w.last = i;
      w.count = 1;
      w.bytes = len;
      w.closed = true;
      continue;
    }
    uint32_t k = 0;
    while (k < open_count_ && !(open_[k].src == c.src && open_[k].dst == c.dst && open_[k].sport == c.sport &&
                                open_[k].dport == c.dport && open_[k].proto == c.proto))
      k++;
    bool bad = false;
    if (k < open_count_) {
      PlannedWrite* wr = &writes_[open_[k].write];
      // Inline TryAppend: the rules in offload.h, cheapest checks first, checksums last.
      Append r = kRefused;
      do {
        if (wr->closed || wr->psh || wr->last_payload != wr->gso_size) break;
        const uint8_t* h = slab + offsets[wr->first];
        const uint8_t* l = slab + offsets[wr->last];
        if (h[1] != p[1] || h[8] != p[8] || (h[6] >> 5) != (p[6] >> 5)) break;
        if ((p[6] & kIpv4Df) == 0 && Be16(p + 4) != static_cast<uint16_t>(Be16(l + 4) + 1)) break;
        if (c.payload > wr->gso_size || wr->bytes + c.payload > kMaxSuperPacket || wr->count >= kMaxSegments) break;
        if (c.hdr_len != wr->hdr_len) break;
        if (c.kind == kGsoTcpV4) {
          if (std::memcmp(p + 40, h + 40, c.hdr_len - 40) != 0) break;  // options
          if (std::memcmp(p + 28, h + 28, 4) != 0) break;                // ACK number
          if (Be32(p + 24) != Be32(h + 24) + (wr->bytes - wr->hdr_len)) break;  // sequence follows
        }
        if (!wr->head_checked) {
          if (!TransportChecksumValid(h, lengths[wr->first])) {
            wr->closed = true;
            break;
          }
          wr->head_checked = true;
        }
        if (!TransportChecksumValid(p, len)) {
          r = kBadPacket;
          break;
        }
        r = kAppended;
      } while (false);
      if (r == kAppended) {
        next_[wr->last] = i;
        wr->last = i;
        wr->count++;
        wr->bytes += c.payload;
        wr->last_payload = static_cast<uint16_t>(c.payload);
        if (c.kind == kGsoTcpV4 && (p[33] & kTcpPsh) != 0) wr->psh = true;
        continue;
      }
      // The flow's run ends here so no later packet of the flow can overtake this one.
      open_[k] = open_[--open_count_];
      bad = r == kBadPacket;
    }
    PlannedWrite& w = writes_[nw];
    w = PlannedWrite();
    w.first = w.last = i;
    w.count = 1;
    w.bytes = len;
    w.kind = c.kind;
    w.hdr_len = static_cast<uint8_t>(c.hdr_len);
    w.gso_size = static_cast<uint16_t>(c.payload);
    w.last_payload = static_cast<uint16_t>(c.payload);
    w.psh = c.kind == kGsoTcpV4 && (p[33] & kTcpPsh) != 0;
    w.closed = bad;  // a packet with a bad checksum goes alone; the pod's stack drops it
    if (!bad) {
      if (open_count_ == kMaxOpen) {
        open_[open_evict_] = open_[--open_count_];
        open_evict_ = (open_evict_ + 1) % kMaxOpen;
      }
      open_[open_count_++] = Open{nw, c.src, c.dst, c.sport, c.dport, c.proto};
    }
    nw++;
  }
  return nw;
}

uint32_t Coalescer::MergedHeaders(const uint8_t* slab, const uint32_t* offsets, uint32_t w, uint8_t* out,
                                  VnetHdr* vnet) const {
  const PlannedWrite& wr = writes_[w];
  const uint32_t hl = wr.hdr_len;
  std::memcpy(out, slab + offsets[wr.first], hl);
  PutBe16(out + 2, static_cast<uint16_t>(wr.bytes));
  Ipv4HeaderChecksum(out, 20);
  const uint32_t l4len = wr.bytes - 20;
  *vnet = VnetHdr();
  vnet->flags = kVnetFlagNeedsCsum;  // CHECKSUM_PARTIAL: the field holds the pseudo-header sum
  vnet->hdr_len = static_cast<uint16_t>(hl);
  vnet->gso_size = wr.gso_size;
  vnet->csum_start = 20;
  if (wr.kind == kGsoTcpV4) {
    if (wr.psh) out[33] |= kTcpPsh;
    StoreMem16(out + 36, CsumFold(PseudoSum4(out, 6, l4len)));
    vnet->gso_type = kGsoTcpV4;
    vnet->csum_offset = 16;
  } else {
    PutBe16(out + 24, static_cast<uint16_t>(l4len));
    StoreMem16(out + 26, CsumFold(PseudoSum4(out, 17, l4len)));
    vnet->gso_type = kGsoUdpL4;
    vnet->csum_offset = 6;
  }
  return hl;
}

}  // namespace tartan

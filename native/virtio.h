// The virtio-net header a TUN device opened with IFF_VNET_HDR puts in front of every frame (include/uapi/
// linux/virtio_net.h, struct virtio_net_hdr: 10 bytes), and the offload constants this addon uses. Defined
// here because distribution headers may predate GSO_UDP_L4 (Linux 5.2 virtio) and TUN_F_USO4/6 (Linux 6.2).
#pragma once

#include <endian.h>

#include <cstdint>
#include <cstring>

namespace tartan {

constexpr uint8_t kVnetFlagNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM: checksum from csum_start is ours
constexpr uint8_t kVnetFlagDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID

constexpr uint8_t kGsoNone = 0;    // VIRTIO_NET_HDR_GSO_NONE
constexpr uint8_t kGsoTcpV4 = 1;   // VIRTIO_NET_HDR_GSO_TCPV4
constexpr uint8_t kGsoTcpV6 = 4;   // VIRTIO_NET_HDR_GSO_TCPV6
constexpr uint8_t kGsoUdpL4 = 5;   // VIRTIO_NET_HDR_GSO_UDP_L4 (USO)
constexpr uint8_t kGsoEcn = 0x80;  // VIRTIO_NET_HDR_GSO_ECN: set alongside a type when CWR may be set

// TUNSETOFFLOAD bits (include/uapi/linux/if_tun.h).
constexpr unsigned kTunFCsum = 0x01;
constexpr unsigned kTunFTso4 = 0x02;
constexpr unsigned kTunFTso6 = 0x04;
constexpr unsigned kTunFTsoEcn = 0x08;
constexpr unsigned kTunFUso4 = 0x20;
constexpr unsigned kTunFUso6 = 0x40;

// sizeof(struct virtio_net_hdr), the TUN default (TUNSETVNETHDRSZ unset).
constexpr size_t kVnetHdrLen = 10;

// Largest IP packet (IPv4 total length is 16 bits; a super-packet is one IP packet).
constexpr size_t kMaxSuperPacket = 65535;

// Fields in host order. The TUN device uses little-endian virtio headers on little-endian hosts (legacy
// virtio is native-endian; tun_is_little_endian), which le16toh/htole16 express on any host we build for.
struct VnetHdr {
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
};

inline VnetHdr DecodeVnetHdr(const uint8_t* p) {
  VnetHdr h;
  uint16_t v[4];
  std::memcpy(v, p + 2, 8);
  h.flags = p[0];
  h.gso_type = p[1];
  h.hdr_len = le16toh(v[0]);
  h.gso_size = le16toh(v[1]);
  h.csum_start = le16toh(v[2]);
  h.csum_offset = le16toh(v[3]);
  return h;
}

inline void EncodeVnetHdr(const VnetHdr& h, uint8_t* p) {
  uint16_t v[4] = {htole16(h.hdr_len), htole16(h.gso_size), htole16(h.csum_start), htole16(h.csum_offset)};
  p[0] = h.flags;
  p[1] = h.gso_type;
  std::memcpy(p + 2, v, 8);
}

}  // namespace tartan

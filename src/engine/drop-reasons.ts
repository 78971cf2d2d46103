/**
 * Why a packet was dropped. Each reason has a stable name used in counters, metrics and events; the
 * numeric values index the engine's drop counter array.
 */
export const DropReason = {
  /** From the TUN: not IPv4, or a malformed IPv4 header. */
  TunMalformed: 0,
  /** From the TUN: no route to the destination (an ICMP net unreachable was sent back). */
  TunNoRoute: 1,
  /** From the TUN: TTL would reach zero (an ICMP time exceeded was sent back). */
  TunTtlExpired: 2,
  /** From the TUN: larger than the path MTU with DF set (an ICMP fragmentation needed was sent back). */
  TunTooBig: 3,
  /** From the TUN: destination is in the local subnet; the kernel should not have sent it to us. */
  TunLocalDestination: 4,
  /** To the underlay: the socket refused the datagram (errno in status) or stayed full. */
  TxError: 5,
  /** From the underlay: the outer source is not a known peer's address and port. */
  UnknownPeer: 6,
  /** From the underlay: shorter than an IPv4 header. */
  Truncated: 7,
  /** From the underlay: IP version is not 4. */
  NotIpv4: 8,
  /** From the underlay: IHL below 5 or beyond the datagram. */
  BadIhl: 9,
  /** From the underlay: IPv4 header checksum does not verify. */
  BadChecksum: 10,
  /** From the underlay: IPv4 total length differs from the datagram's payload length. */
  LengthMismatch: 11,
  /** From the underlay: inner source is outside the sending peer's subnet (spoofed). */
  SpoofedSource: 12,
  /** From the underlay: inner destination is outside the local subnet (we never relay). */
  NotLocalDestination: 13,
  /** From the underlay: TTL 0, which no router may forward (RFC 1812 5.3.1). */
  TtlZero: 14,
  /** Writing to the TUN failed (errno in status). */
  RxError: 15,
  /** VXLAN: shorter than the VXLAN header plus an inner Ethernet header. */
  VxlanTruncated: 16,
  /** VXLAN: flags other than exactly I (0x08), as the Linux kernel drops them. */
  VxlanBadFlags: 17,
  /** VXLAN: a VNI other than ours. */
  VxlanWrongVni: 18,
  /** VXLAN: inner destination MAC is not our VtepMAC (nor broadcast for ARP). */
  VxlanWrongMac: 19,
  /** VXLAN: inner EtherType is neither IPv4 nor ARP. */
  VxlanNotIpv4: 20,
  /** VXLAN: an ARP frame that is not a request for our tunnel address. */
  VxlanArpIgnored: 21,
} as const

export type DropReason = (typeof DropReason)[keyof typeof DropReason]

/** Stable snake_case names, indexed by DropReason value. */
export const DROP_REASON_NAMES: readonly string[] = [
  'tun_malformed', 'tun_no_route', 'tun_ttl_expired', 'tun_too_big', 'tun_local_destination', 'tx_error',
  'unknown_peer', 'truncated', 'not_ipv4', 'bad_ihl', 'bad_checksum', 'length_mismatch',
  'spoofed_source', 'not_local_destination', 'ttl_zero', 'rx_error',
  'vxlan_truncated', 'vxlan_bad_flags', 'vxlan_wrong_vni', 'vxlan_wrong_mac', 'vxlan_not_ipv4', 'vxlan_arp_ignored',
]

export const DROP_REASON_COUNT = DROP_REASON_NAMES.length

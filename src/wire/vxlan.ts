/**
 * The VXLAN header (RFC 7348 section 5): 8 bits of flags (only I = 0x08, "VNI valid", is defined), 24
 * reserved bits, a 24-bit VXLAN Network Identifier, 8 reserved bits.
 */
export const VXLAN_HEADER = 8
/** The I flag: the VNI field is valid (RFC 7348: MUST be set). */
export const VXLAN_FLAG_VNI = 0x08
/** Linux's default VXLAN port, which flannel's vxlan backend uses (IANA's is 4789). */
export const VXLAN_PORT_LINUX = 8472
/** flannel's default VNI. */
export const VXLAN_DEFAULT_VNI = 1
export const VXLAN_MAX_VNI = 0xffffff

/** Writes a VXLAN header with flags 0x08 and `vni` at b[off]. */
export function writeVxlanHeader(b: Uint8Array, off: number, vni: number): void {
  b[off] = VXLAN_FLAG_VNI
  b[off + 1] = 0
  b[off + 2] = 0
  b[off + 3] = 0
  b[off + 4] = (vni >>> 16) & 255
  b[off + 5] = (vni >>> 8) & 255
  b[off + 6] = vni & 255
  b[off + 7] = 0
}

/** The VNI of the VXLAN header at b[off]. */
export function readVni(b: Uint8Array, off: number): number {
  return (b[off + 4]! << 16) | (b[off + 5]! << 8) | b[off + 6]!
}

/**
 * The native handle of a PacketBatch: registered with the addon on first use (slab and typed arrays handed
 * over once) and kept on the batch, so every later batch call passes one object.
 */
import type { NativeAddon } from './native.js'
import type { PacketBatch } from './packet-batch.js'

/** Returns the batch's native handle, registering the batch with the addon the first time. */
export function batchHandle(addon: NativeAddon, batch: PacketBatch): object {
  if (batch.nativeHandle !== undefined) return batch.nativeHandle as object
  const h = addon.batchRegister(batch.buffer, batch.slotSize, batch.headroom, batch.offsets, batch.lengths, batch.addrs, batch.ports, batch.status)
  batch.nativeHandle = h
  return h
}

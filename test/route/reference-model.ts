/**
 * The naive reference for the route table: a plain list scanned for the longest matching prefix.
 * Obviously correct and slow; the differential tests compare RouteTable against it.
 */
export interface ModelRoute {
  prefix: number
  len: number
  value: number
}

/** Netmask of a prefix length as an unsigned 32-bit integer. */
export function modelMask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
}

export class ReferenceModel {
  readonly routes: ModelRoute[] = []

  /** Inserts or replaces prefix/len -> value, clearing host bits. */
  insert(prefix: number, len: number, value: number): void {
    const p = (prefix & modelMask(len)) >>> 0
    const r = this.routes.find((x) => x.prefix === p && x.len === len)
    if (r) r.value = value
    else this.routes.push({ prefix: p, len, value })
  }

  /** Removes prefix/len (host bits cleared); returns whether it was present. */
  remove(prefix: number, len: number): boolean {
    const p = (prefix & modelMask(len)) >>> 0
    const i = this.routes.findIndex((x) => x.prefix === p && x.len === len)
    if (i < 0) return false
    this.routes.splice(i, 1)
    return true
  }

  /** The value of the longest prefix containing addr, or -1. */
  lookup(addr: number): number {
    let best = -1
    let bestLen = -1
    for (const r of this.routes) {
      if (r.len > bestLen && ((addr & modelMask(r.len)) >>> 0) === r.prefix) {
        best = r.value
        bestLen = r.len
      }
    }
    return best
  }

  get size(): number {
    return this.routes.length
  }
}

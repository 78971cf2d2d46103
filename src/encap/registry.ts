/**
 * Encapsulations by name. `flannel-udp` answers to flannel's backend type "udp" as well.
 */
import { TartanError } from '../errors.js'
import type { Encapsulation } from './encapsulation.js'
import { flannelUdp } from './flannel-udp.js'

const registry = new Map<string, Encapsulation>([
  ['flannel-udp', flannelUdp],
  ['udp', flannelUdp],
])

/** Registers an encapsulation under its name and backend type. */
export function registerEncapsulation(e: Encapsulation): void {
  registry.set(e.name, e)
  registry.set(e.backendType, e)
}

/** Returns the encapsulation called `name`; throws TARTAN_ERR_INVALID_ARGUMENT listing the known ones. */
export function getEncapsulation(name: string): Encapsulation {
  const e = registry.get(name)
  if (!e) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT',
      `unknown encapsulation "${name}"; known: ${[...new Set([...registry.values()].map((x) => x.name))].join(', ')}`)
  }
  return e
}

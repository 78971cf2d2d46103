/**
 * Encapsulation kinds by name. `flannel-udp` also answers to flannel's backend type "udp".
 */
import { TartanError } from '../errors.js'
import type { EncapsulationKind } from './encapsulation.js'
import { flannelUdp } from './flannel-udp.js'
import { vxlan } from './vxlan.js'

const registry = new Map<string, EncapsulationKind>([
  ['flannel-udp', flannelUdp],
  ['udp', flannelUdp],
  ['vxlan', vxlan],
])

/** Registers an encapsulation kind under its name and backend type. */
export function registerEncapsulation(kind: EncapsulationKind): void {
  registry.set(kind.name, kind)
  registry.set(kind.backendType, kind)
}

/** Returns the encapsulation kind called `name`; throws TARTAN_ERR_INVALID_ARGUMENT listing the known ones. */
export function getEncapsulation(name: string): EncapsulationKind {
  const e = registry.get(name)
  if (!e) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT',
      `unknown encapsulation "${name}"; known: ${[...new Set([...registry.values()].map((x) => x.name))].join(', ')}`)
  }
  return e
}

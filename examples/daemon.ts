/**
 * Embedding a whole tartan node (what `tartan run` runs): lease from a store, TUN device, data plane,
 * subnet.env, routes that follow the other nodes' leases. Prints one JSON line per event until SIGINT or
 * SIGTERM, then stops (keeping the lease, as a restart reuses it).
 *
 * Run it as root inside a network namespace whose interface `iface` carries the underlay:
 *
 *   ip netns exec tartan-example node --import tsx examples/daemon.ts <leases.db> <subnet.env> [iface]
 *
 * Nodes on one machine share the store by giving the same leases.db.
 */
import { Daemon } from '../src/index.js' // in your project: from 'tartan'

const [storeFile = '/tmp/tartan-example/leases.db', subnetFile = '/tmp/tartan-example/subnet.env', iface = 'eth0'] = process.argv.slice(2)
const say = (obj: object): void => console.log(JSON.stringify(obj))

const daemon = new Daemon({
  store: { kind: 'sqlite', path: storeFile }, // or { kind: 'etcd', endpoints: ['https://10.0.0.1:2379'] }
  network: '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}', // written only into an empty store
  iface: [iface],
  tunName: 'tartan-ex0',
  subnetFile,
})
daemon.on('lease-acquired', (l) => say({ event: 'lease-acquired', key: l.key }))
daemon.on('peer-added', (l) => say({ event: 'peer-added', publicIp: l.attrs.publicIp, key: l.key }))
daemon.on('peer-removed', (l) => say({ event: 'peer-removed', key: l.key }))
daemon.on('peer-unreachable', (p) => say({ event: 'peer-unreachable', ...p }))
daemon.on('lease-lost', (e) => say({ event: 'lease-lost', message: e.message }))
daemon.on('ready', () => say({ event: 'ready', status: daemon.status() }))

const stop = (): void => void daemon.stop().then(() => say({ event: 'stopped' }))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
await daemon.start()

/**
 * Two tartan nodes speaking flannel's UDP format (payload = the inner IPv4 packet, port 8285, MTU 1472):
 * ping, 64 MiB transfers both ways, the wire checked with cap, crafted datagrams injected with raw-socket.
 */
import t from 'tap'
import { e2eUnavailable, twoNodeSuite } from '../helpers/two-node-suite.js'

const why = e2eUnavailable()
if (why) t.pass(`SKIPPED: ${why}`, { skip: `end-to-end tests ${why}` })
else await twoNodeSuite(t, { encapsulation: 'flannel-udp', port: 8285, overhead: 28, wrap: (inner) => inner })

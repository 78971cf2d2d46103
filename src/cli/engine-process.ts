/**
 * A single engine in its own process, configured by one JSON argument, for harnesses (the end-to-end tests
 * and the benchmark) that need one tartan node per network namespace without a lease store:
 *
 *   node dist/cli/engine-process.js '{"netns":"/var/run/netns/h0","tunName":"tartan0","network":"10.244.0.0/16",
 *     "subnet":"10.244.1.0/24","underlayAddress":"198.18.0.1","peers":[{"publicIp":"198.18.0.2","subnet":"10.244.2.0/24"}]}'
 *
 * `"offload": false` in the config turns TUN offloads and UDP GSO/GRO off (default on, probed with fallback).
 *
 * Protocol on stdio, one JSON object per line: prints {"event":"ready",...} once forwarding (with the offloads
 * in use); answers the
 * input lines `counters`, `peers`; takes `add-peer <json>` / `remove-peer <cidr>`; stops on `stop`, stdin end,
 * SIGTERM or SIGINT, printing {"event":"stopped"} and exiting 0. A startup failure prints
 * {"event":"error","code":...,"message":...} and exits 1.
 */
import { createInterface } from 'node:readline'
import { Engine, type EngineOptions, type PeerSpec } from '../engine/engine.js'
import { TartanError } from '../errors.js'

interface EngineProcessConfig extends EngineOptions {
  peers?: PeerSpec[]
}

function say(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`)
}

async function main(): Promise<number> {
  const arg = process.argv[2]
  if (!arg) {
    say({ event: 'error', code: 'TARTAN_ERR_INVALID_ARGUMENT', message: 'usage: engine-process <json config>' })
    return 2
  }
  let config: EngineProcessConfig
  try {
    config = JSON.parse(arg) as EngineProcessConfig
  } catch (err) {
    say({ event: 'error', code: 'TARTAN_ERR_INVALID_ARGUMENT', message: `config is not JSON: ${(err as Error).message}` })
    return 2
  }
  const engine = await Engine.create(config)
  engine.updatePeers({ add: config.peers ?? [], remove: [] })
  engine.start()
  const off = engine.counters().offload
  say({ event: 'ready', pid: process.pid, mtu: engine.mtu, tun: engine.device.name, offload: { tun: off?.tun?.features, udp: off?.udp?.features } })
  return await new Promise<number>((resolve) => {
    let stopping = false
    const stop = (): void => {
      if (stopping) return
      stopping = true
      void engine.stop().then(() => {
        say({ event: 'stopped' })
        resolve(0)
      })
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
    const rl = createInterface({ input: process.stdin })
    rl.on('close', stop)
    rl.on('line', (line) => {
      const [cmd, ...rest] = line.trim().split(' ')
      try {
        if (cmd === 'counters') say({ event: 'counters', counters: engine.counters(), peers: engine.peers() })
        else if (cmd === 'peers') say({ event: 'peers', peers: engine.peers() })
        else if (cmd === 'add-peer') { engine.addPeer(JSON.parse(rest.join(' ')) as PeerSpec); say({ event: 'ok' }) }
        else if (cmd === 'remove-peer') say({ event: 'ok', removed: engine.removePeer(rest[0] ?? '') })
        else if (cmd === 'stop') stop()
        else if (cmd) say({ event: 'error', code: 'TARTAN_ERR_INVALID_ARGUMENT', message: `unknown command ${cmd}` })
      } catch (err) {
        const e = err as TartanError
        say({ event: 'error', code: e.code ?? 'TARTAN_ERR_STATE', message: e.message })
      }
    })
  })
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = err as TartanError
    say({ event: 'error', code: e.code ?? 'TARTAN_ERR_STATE', message: e.message ?? String(err) })
    process.exit(1)
  },
)

/**
 * `tartan run`: the node daemon, a drop-in for flanneld. Checks its flags (exit 2 on a mistake), opens the
 * HTTP listeners, runs the Daemon (lease -> TUN -> data plane -> masquerade -> subnet.env -> ready), logs
 * each meaningful event as one JSON line, and on SIGTERM/SIGINT stops cleanly (TUN and nftables table
 * removed, lease kept) with exit 0. A start-up failure or a lost lease exits 1 after cleaning up.
 */
import type { Server } from 'node:http'
import { formatCidr } from '../config/cidr.js'
import { Daemon } from '../daemon/daemon.js'
import { describeStore } from '../daemon/store.js'
import { TartanError } from '../errors.js'
import type { Lease } from '../lease/lease-store.js'
import { RUN_FLAGS, parseFlags } from './flags.js'
import { close, handler, listen } from './http-server.js'
import { createLogger, type Logger } from './logger.js'
import { createMetrics } from './metrics.js'
import { runOptions, type RunOptions } from './run-options.js'

/** How long a clean stop may take before the process gives up on it. */
const STOP_TIMEOUT_MS = 15_000

function leaseFields(l: Lease): Record<string, unknown> {
  return {
    subnet: formatCidr(l.subnet),
    key: l.key,
    expiresAt: l.expiresAt === undefined ? undefined : new Date(l.expiresAt).toISOString(),
  }
}

/** Logs every daemon event worth a line (never per packet: drops and traffic are in /metrics). */
function logEvents(d: Daemon, log: Logger, o: RunOptions): void {
  d.on('waiting-for-config', (m) => log.warn({ event: 'waiting-for-config', store: describeStore(o.store) }, `waiting for a network config: ${m}`))
  d.on('lease-acquired', (l) => log.info({ event: 'lease-acquired', ...leaseFields(l) }, `leased ${formatCidr(l.subnet)}`))
  d.on('lease-renewed', (l) => log.info({ event: 'lease-renewed', ...leaseFields(l) }, `renewed ${formatCidr(l.subnet)}`))
  d.on('lease-lost', (e) => log.error({ event: 'lease-lost', code: e.code }, e.message))
  d.on('peer-added', (l) => log.info({ event: 'peer-added', publicIp: l.attrs.publicIp, subnet: formatCidr(l.subnet), backendType: l.attrs.backendType || 'udp' },
    `peer ${l.attrs.publicIp} joined with ${formatCidr(l.subnet)}`))
  d.on('peer-removed', (l) => log.info({ event: 'peer-removed', publicIp: l.attrs.publicIp, subnet: formatCidr(l.subnet) },
    `peer ${l.attrs.publicIp} left (${formatCidr(l.subnet)})`))
  d.on('peer-rejected', (p, e) => log.warn({ event: 'peer-rejected', peer: p }, `not routing ${typeof p === 'string' ? p : p.subnet}: ${e.message}`))
  d.on('peer-unreachable', (p) => log.warn({ event: 'peer-unreachable', ...p }, `sends to peer ${p.publicIp} (${p.subnet}) fail: ${p.error}`))
  d.on('store-unreachable', (e) => log.warn({ event: 'store-unreachable', store: describeStore(o.store) }, e.message))
  d.on('store-restored', () => log.info({ event: 'store-restored', store: describeStore(o.store) }, 'lease store reachable again'))
  d.on('ready', () => {
    const s = d.status()
    log.info({
      event: 'ready', subnet: s.lease?.subnet, network: s.node.network, backend: s.node.backend, tun: s.node.tun, mtu: s.node.mtu,
      publicIp: s.node.publicIp, iface: s.node.iface, vtepMac: s.node.vtepMac ?? undefined, subnetFile: o.subnetFile, ipMasq: o.ipMasq,
    }, `ready: ${s.lease?.subnet} on ${s.node.tun}`)
  })
}

/** Runs `tartan run` with argv (after "run"); resolves with the exit code. Throws UsageError for bad flags. */
export async function run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const o = runOptions(parseFlags(RUN_FLAGS, argv, env, 'run'))
  const log = createLogger(o.logLevel)
  const daemon = new Daemon({
    store: o.store,
    network: o.network,
    backend: o.backend,
    iface: o.iface,
    ifaceRegex: o.ifaceRegex,
    ifaceCanReach: o.ifaceCanReach,
    publicIp: o.publicIp,
    tunName: o.tunName,
    subnetFile: o.subnetFile,
    ipMasq: o.ipMasq,
    offload: o.offload,
    busyPollUs: o.busyPollUs,
    renewMarginMs: o.renewMarginMs,
    log: { debug: (m) => log.debug(m), warn: (m) => log.warn(m) },
  })
  logEvents(daemon, log, o)
  log.info({ event: 'starting', store: describeStore(o.store), tun: o.tunName, subnetFile: o.subnetFile }, 'starting')

  const fatal = (err: unknown): number => {
    const msg = err instanceof Error ? err.message : String(err)
    log.error({ event: 'failed', code: (err as TartanError).code }, msg)
    process.stderr.write(`tartan run: ${msg}\n`)
    return 1
  }

  // Listeners first, as flanneld does: a port in use fails before anything is created.
  const servers: Server[] = []
  const h = handler(daemon, createMetrics(daemon))
  try {
    const ports = new Map<number, string>()
    if (o.healthzPort > 0) ports.set(o.healthzPort, '--healthz-port')
    if (o.metricsPort > 0 && !ports.has(o.metricsPort)) ports.set(o.metricsPort, '--metrics-port')
    for (const [port, flag] of ports) {
      servers.push(await listen(h, o.healthzIp, port, flag))
      log.info({ event: 'http-listening', address: `${o.healthzIp}:${port}` }, `serving /healthz /readyz /metrics /status on ${o.healthzIp}:${port}`)
    }
  } catch (err) {
    await Promise.all(servers.map(close))
    return fatal(err)
  }

  let signalled = false
  let lost = false
  const stopped = new Promise<void>((resolve) => daemon.once('stopped', resolve))
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) return
    signalled = true
    log.info({ event: 'stopping', signal: sig }, `${sig}: stopping (the lease is kept)`)
    setTimeout(() => {
      log.error({ event: 'stop-timeout' }, `could not stop cleanly within ${STOP_TIMEOUT_MS / 1000} s; exiting`)
      process.exit(1)
    }, STOP_TIMEOUT_MS).unref()
    void daemon.stop()
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  daemon.on('lease-lost', () => {
    lost = true
  })

  let code = 0
  try {
    await daemon.start()
  } catch (err) {
    if (!signalled) code = fatal(err)
  }
  // Started (or signalled while starting): wait for the stop a signal or a lost lease brings.
  if (code === 0) await stopped
  if (lost) code = 1
  await Promise.all(servers.map(close))
  process.off('SIGTERM', onSignal)
  process.off('SIGINT', onSignal)
  log.info({ event: 'stopped', exitCode: code }, 'stopped')
  return code
}

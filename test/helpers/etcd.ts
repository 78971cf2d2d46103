/**
 * Starts and stops a real etcd for tests: Debian's /usr/bin/etcd (override with TARTAN_ETCD_BIN), a fresh
 * temporary data dir, loopback only, free ports, stopped by pid in teardown (also when the test fails, and
 * at process exit as a last resort). startEtcdInNetns runs one inside a network namespace the caller
 * created, for end-to-end tests.
 *
 * Tests that need etcd use `etcdSkip()` as their skip option: outside CI a missing etcd skips visibly; in CI
 * (CI=true) the test runs and fails with a clear message instead.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const ETCD_BIN = process.env.TARTAN_ETCD_BIN ?? '/usr/bin/etcd'

/** Minimal view of a tap test: where to register cleanup. */
export interface Teardown {
  teardown(fn: () => unknown): void
}

export interface EtcdServer {
  /** The etcd process id (the etcd binary itself, also when started through `ip netns exec`). */
  readonly pid: number
  /** The client URL, e.g. http://127.0.0.1:41234. */
  readonly endpoint: string
  readonly dataDir: string
  /** Stops etcd (SIGTERM, SIGKILL after 5 s), keeping its data dir for restart(). */
  kill(): Promise<void>
  /** Starts etcd again on the same ports and data dir (after kill()). */
  restart(): Promise<void>
  /** Stops etcd and removes its data dir. Idempotent. */
  stop(): Promise<void>
  /** The last lines etcd printed, for failure messages. */
  log(): string
}

function etcdInstalled(): boolean {
  try {
    accessSync(ETCD_BIN, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The skip option for etcd tests: a visible reason outside CI when etcd is missing; false otherwise. */
export function etcdSkip(): string | false {
  if (etcdInstalled()) return false
  if (process.env.CI === 'true') return false // in CI a missing etcd must fail, not skip
  return `needs etcd at ${ETCD_BIN} (apt-get install etcd-server, or set TARTAN_ETCD_BIN)`
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      s.close(() => resolve(port))
    })
  })
}

const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
})

interface Launch {
  command: string
  args: string[]
  endpoint: string
  /** Readiness probe beyond the log line (loopback only: we can reach it). */
  httpHealth: boolean
}

/** PEM files of a test PKI made by makeTestPki. */
export interface TestPki {
  dir: string
  caFile: string
  serverCertFile: string
  serverKeyFile: string
  clientCertFile: string
  clientKeyFile: string
  /** A CA that signed nothing here: trusting only it must fail. */
  otherCaFile: string
}

/**
 * A throw-away PKI in a temporary directory (removed in t's teardown): a CA, a server certificate for
 * 127.0.0.1 and a client certificate signed by it, and an unrelated CA. Made with openssl, P-256, 1 day.
 */
export function makeTestPki(t: Teardown): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'tartan-pki-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const f = (name: string): string => join(dir, name)
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  }
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  for (const ca of ['ca', 'other-ca']) {
    ssl('req', '-x509', ...key, '-keyout', f(`${ca}.key`), '-out', f(`${ca}.pem`), '-days', '1', '-subj', `/CN=tartan test ${ca}`)
  }
  const sign = (name: string, cn: string, ext: string): void => {
    writeFileSync(f(`${name}.ext`), ext)
    ssl('req', ...key, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`)
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
      '-out', f(`${name}.pem`), '-days', '1', '-extfile', f(`${name}.ext`))
  }
  sign('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  sign('client', 'tartan-node', 'extendedKeyUsage=clientAuth\n')
  return {
    dir, caFile: f('ca.pem'), serverCertFile: f('server.pem'), serverKeyFile: f('server.key'),
    clientCertFile: f('client.pem'), clientKeyFile: f('client.key'), otherCaFile: f('other-ca.pem'),
  }
}

function etcdArgs(name: string, dataDir: string, host: string, clientPort: number, peerPort: number, pki?: TestPki): string[] {
  const client = `${pki === undefined ? 'http' : 'https'}://${host}:${clientPort}`
  const peer = `http://${host}:${peerPort}`
  return [
    `--name=${name}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${name}=${peer}`,
    '--initial-cluster-state=new',
    // Short ticks: leader election takes ~0.5 s after a restart, and etcd's minimum lease TTL
    // (1.5 election timeouts, rounded up to whole seconds) becomes 1 s, so tests can use 1-2 s TTLs.
    '--heartbeat-interval=50',
    '--election-timeout=500',
    // With a PKI: clients must present a certificate signed by its CA (flannel's usual etcd set-up).
    ...(pki === undefined ? [] : [
      `--cert-file=${pki.serverCertFile}`, `--key-file=${pki.serverKeyFile}`,
      `--trusted-ca-file=${pki.caFile}`, '--client-cert-auth=true',
    ]),
  ]
}

class Server implements EtcdServer {
  private child: ChildProcess | undefined
  private output: string[] = []
  private removed = false

  constructor(
    private readonly launch: Launch,
    readonly dataDir: string,
    private readonly ownsDataDir: boolean,
  ) {}

  get pid(): number {
    return this.child?.pid ?? -1
  }

  get endpoint(): string {
    return this.launch.endpoint
  }

  log(): string {
    return this.output.join('').split('\n').slice(-30).join('\n')
  }

  async start(): Promise<void> {
    const child = spawn(this.launch.command, this.launch.args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    live.add(child)
    let ready = false
    const onData = (b: Buffer): void => {
      const s = b.toString()
      this.output.push(s)
      if (this.output.length > 200) this.output.splice(0, 100)
      if (s.includes('ready to serve client requests')) ready = true
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve))
    let failure: Error | undefined
    void spawnError.then((e) => (failure = e))
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline) {
      if (failure !== undefined) throw new Error(`cannot start ${this.launch.command}: ${failure.message}`)
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`etcd exited during start-up (${child.exitCode ?? child.signalCode}):\n${this.log()}`)
      }
      if (ready && (!this.launch.httpHealth || (await this.healthy()))) return
      await new Promise((r) => setTimeout(r, 50))
    }
    await this.kill()
    throw new Error(`etcd did not become ready within 15 s:\n${this.log()}`)
  }

  private async healthy(): Promise<boolean> {
    try {
      const res = await fetch(`${this.launch.endpoint}/health`, { signal: AbortSignal.timeout(1000) })
      const body = (await res.json()) as { health?: string }
      return body.health === 'true'
    } catch {
      return false
    }
  }

  async kill(): Promise<void> {
    const child = this.child
    if (child === undefined) return
    this.child = undefined
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
    live.delete(child)
  }

  async restart(): Promise<void> {
    await this.kill()
    await this.start()
  }

  async stop(): Promise<void> {
    await this.kill()
    if (this.ownsDataDir && !this.removed) {
      this.removed = true
      rmSync(this.dataDir, { recursive: true, force: true })
    }
  }
}

/**
 * Starts a single-member etcd on 127.0.0.1 with free ports and a temporary data dir; stopped in t's teardown.
 * With `pki` it serves https only and requires client certificates signed by the PKI's CA.
 */
export async function startEtcd(t?: Teardown, pki?: TestPki): Promise<EtcdServer> {
  if (!etcdInstalled()) throw new Error(`etcd is not installed at ${ETCD_BIN} (CI installs the etcd-server package)`)
  const dataDir = mkdtempSync(join(tmpdir(), 'tartan-etcd-'))
  const clientPort = await freePort()
  let peerPort = await freePort()
  while (peerPort === clientPort) peerPort = await freePort()
  const server = new Server(
    {
      command: ETCD_BIN,
      args: etcdArgs('tartan-test', dataDir, '127.0.0.1', clientPort, peerPort, pki),
      endpoint: `${pki === undefined ? 'http' : 'https'}://127.0.0.1:${clientPort}`,
      // The health probe speaks plain http; with TLS, etcd's "ready to serve" line is the signal.
      httpHealth: pki === undefined,
    },
    dataDir,
    true,
  )
  return launch(server, t)
}

export interface NetnsEtcdOptions {
  /** A network namespace the caller created (and will delete). */
  netns: string
  /** The address etcd listens on inside it (already configured there, e.g. 198.18.0.1). */
  address: string
  clientPort?: number
  peerPort?: number
  /** Defaults to a fresh temporary directory, removed on stop(). */
  dataDir?: string
}

/**
 * Starts etcd inside `netns` (via `ip netns exec`, which execs etcd, so the pid is etcd's) listening on
 * `address`; readiness comes from etcd's own log since the root namespace cannot reach it. Needs root.
 */
export async function startEtcdInNetns(options: NetnsEtcdOptions, t?: Teardown): Promise<EtcdServer> {
  if (!etcdInstalled()) throw new Error(`etcd is not installed at ${ETCD_BIN} (CI installs the etcd-server package)`)
  const ownsDataDir = options.dataDir === undefined
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tartan-etcd-'))
  const clientPort = options.clientPort ?? 2379
  const peerPort = options.peerPort ?? 2380
  const server = new Server(
    {
      command: 'ip',
      args: ['netns', 'exec', options.netns, ETCD_BIN, ...etcdArgs('tartan-e2e', dataDir, options.address, clientPort, peerPort)],
      endpoint: `http://${options.address}:${clientPort}`,
      httpHealth: false,
    },
    dataDir,
    ownsDataDir,
  )
  return launch(server, t)
}

/** Starts `server`, stopped in t's teardown, or at once (data dir removed) when it does not come up. */
async function launch(server: Server, t?: Teardown): Promise<EtcdServer> {
  t?.teardown(() => server.stop())
  try {
    await server.start()
  } catch (err) {
    await server.stop()
    throw err
  }
  return server
}

/**
 * The demo's measuring probe, run inside a pod's network namespace (so the demo needs neither ping nor
 * iperf3):
 *
 *   probe <listen-ip> <port> [tag]
 *
 * serves a UDP echo and a TCP sink on listen-ip:port, prints {"event":"listening"}, then takes commands on
 * stdin, one JSON object per line, and answers each with one JSON line on stdout:
 *
 *   {"cmd":"rtt","dst":"10.244.2.2","port":7000,"count":200}
 *     -> {"event":"rtt","count":200,"lost":0,"minMs":..,"p50Ms":..,"p90Ms":..,"p99Ms":..,"maxMs":..}
 *        UDP echo round trips, one in flight at a time (1 s timeout each), after 5 unrecorded warm-ups.
 *   {"cmd":"tcp","dst":"10.244.2.2","port":7000,"ms":1000}
 *     -> {"event":"tcp","bytes":..,"seconds":..,"bitsPerSecond":..}
 *        a bulk transfer for `ms`; bytes are those the far end counted, timed until it confirmed them.
 *   (`tag` is ignored: it marks the process's command line.)
 *   Failures answer {"event":"error","message":...}. The probe exits when stdin ends.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createConnection, createServer, type Socket } from 'node:net'
import { createInterface } from 'node:readline'

const WARMUP = 5
const RTT_TIMEOUT_MS = 1000
const MAX_LOST_IN_A_ROW = 5
const CHUNK = Buffer.alloc(64 * 1024, 0x5a)
/** Upper bounds so a broken path can never keep a probe busy. */
const MAX_RTT_COUNT = 10_000
const MAX_TCP_MS = 600_000

function say(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`)
}

/** The q-quantile (0..1) of sorted values, nearest rank. */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

function serve(ip: string, port: number): Promise<void> {
  const udp = createSocket('udp4')
  udp.on('message', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address))
  const tcp = createServer((sock) => {
    let bytes = 0
    sock.on('data', (b) => {
      bytes += b.length
    })
    sock.on('end', () => sock.end(`${bytes}\n`))
    sock.on('error', () => sock.destroy())
  })
  return Promise.all([
    new Promise<void>((resolve, reject) => {
      udp.once('error', reject)
      udp.bind(port, ip, () => resolve())
    }),
    new Promise<void>((resolve, reject) => {
      tcp.once('error', reject)
      tcp.listen(port, ip, () => resolve())
    }),
  ]).then(() => undefined)
}

function oneRtt(sock: UdpSocket, dst: string, port: number, seq: number): Promise<number | null> {
  return new Promise((resolve) => {
    const payload = Buffer.alloc(64)
    payload.writeUInt32BE(seq, 0)
    const start = process.hrtime.bigint()
    const timer = setTimeout(() => {
      sock.off('message', onMessage)
      resolve(null)
    }, RTT_TIMEOUT_MS)
    const onMessage = (msg: Buffer): void => {
      if (msg.length < 4 || msg.readUInt32BE(0) !== seq) return
      clearTimeout(timer)
      sock.off('message', onMessage)
      resolve(Number(process.hrtime.bigint() - start) / 1e6)
    }
    sock.on('message', onMessage)
    sock.send(payload, port, dst)
  })
}

async function rtt(dst: string, port: number, count: number): Promise<object> {
  const sock = createSocket('udp4')
  await new Promise<void>((r) => sock.bind(0, () => r()))
  try {
    let seq = 0
    let answered = 0
    for (let i = 0; i < WARMUP; i++) if ((await oneRtt(sock, dst, port, seq++)) !== null) answered++
    const samples: number[] = []
    let lost = 0
    let lostInARow = 0
    // A path that answered no warm-up, or drops MAX_LOST_IN_A_ROW in a row, is reported as it is rather
    // than waited on for count seconds.
    for (let i = 0; i < count && answered > 0 && lostInARow < MAX_LOST_IN_A_ROW; i++) {
      const ms = await oneRtt(sock, dst, port, seq++)
      if (ms === null) {
        lost++
        lostInARow++
      } else {
        samples.push(ms)
        lostInARow = 0
      }
    }
    lost = count - samples.length
    samples.sort((a, b) => a - b)
    const q = (x: number): number | null => (samples.length === 0 ? null : quantile(samples, x))
    return {
      event: 'rtt', count, lost,
      minMs: samples[0] ?? null, p50Ms: q(0.5), p90Ms: q(0.9), p99Ms: q(0.99),
      maxMs: samples[samples.length - 1] ?? null,
    }
  } finally {
    sock.close()
  }
}

async function tcp(dst: string, port: number, ms: number): Promise<object> {
  const sock: Socket = createConnection({ host: dst, port })
  sock.setNoDelay(true)
  let reply = ''
  const confirmed = new Promise<number>((resolve, reject) => {
    sock.on('data', (b) => {
      reply += b.toString()
    })
    sock.on('end', () => resolve(Number(reply.trim())))
    sock.on('error', reject)
  })
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve)
    sock.once('error', reject)
  })
  const start = process.hrtime.bigint()
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (!sock.write(CHUNK)) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()))
        sock.once('drain', () => {
          clearTimeout(t)
          resolve()
        })
        sock.once('error', reject)
      })
    }
  }
  sock.end()
  const guard = setTimeout(() => sock.destroy(new Error('the far end did not confirm the transfer within 30 s')), 30_000)
  try {
    const bytes = await confirmed
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    return { event: 'tcp', bytes, seconds, bitsPerSecond: (bytes * 8) / seconds }
  } finally {
    clearTimeout(guard)
  }
}

async function handle(line: string): Promise<object> {
  const c = JSON.parse(line) as { cmd?: string; dst?: string; port?: number; count?: number; ms?: number }
  const dst = String(c.dst)
  const port = Number(c.port)
  if (c.cmd === 'rtt') return rtt(dst, port, Math.min(MAX_RTT_COUNT, Math.max(1, Number(c.count) || 1)))
  if (c.cmd === 'tcp') return tcp(dst, port, Math.min(MAX_TCP_MS, Math.max(1, Number(c.ms) || 1)))
  return { event: 'error', message: `unknown command ${JSON.stringify(c.cmd)}` }
}

async function main(): Promise<void> {
  const [ip, portText] = process.argv.slice(2)
  const port = Number(portText)
  if (ip === undefined || !Number.isInteger(port)) {
    say({ event: 'error', message: 'usage: probe <listen-ip> <port>' })
    process.exit(2)
  }
  await serve(ip, port)
  say({ event: 'listening', ip, port })
  let queue = Promise.resolve()
  const rl = createInterface({ input: process.stdin })
  rl.on('line', (line) => {
    if (line.trim() === '') return
    queue = queue.then(() =>
      handle(line).then(say, (err: Error) => say({ event: 'error', message: err.message })),
    )
  })
  rl.on('close', () => void queue.then(() => process.exit(0)))
}

main().catch((err: Error) => {
  say({ event: 'error', message: err.message })
  process.exit(1)
})

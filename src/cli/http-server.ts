/**
 * The node's HTTP endpoints, as flanneld's healthz server plus tartan's own:
 *   GET /healthz  200 while the process runs            (flanneld: "flanneld is running")
 *   GET /readyz   200 once ready, 503 before            (flanneld: "flanneld is ready" / "not ready yet")
 *   GET /metrics  Prometheus text format
 *   GET /status   the DaemonStatus as JSON (what `tartan status` prints)
 * A listener that cannot bind fails start-up with a TARTAN_ERR_SOCKET naming the flag to change.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Registry } from 'prom-client'
import type { DaemonStatus } from '../daemon/daemon.js'
import { TartanError } from '../errors.js'

export interface HttpSource {
  readonly ready: boolean
  status(): DaemonStatus
}

function reply(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
  res.end(body)
}

/** A request handler serving the endpoints above for `source`, with metrics from `registry`. */
export function handler(source: HttpSource, registry: Registry): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD')
      reply(res, 405, 'text/plain', 'method not allowed\n')
      return
    }
    switch (path) {
      case '/healthz':
        reply(res, 200, 'text/plain', 'tartan is running\n')
        return
      case '/readyz':
        if (source.ready) reply(res, 200, 'text/plain', 'tartan is ready\n')
        else reply(res, 503, 'text/plain', 'tartan is not ready yet\n')
        return
      case '/status':
        reply(res, 200, 'application/json', `${JSON.stringify(source.status())}\n`)
        return
      case '/metrics':
        registry.metrics().then(
          (text) => reply(res, 200, registry.contentType, text),
          (err: Error) => reply(res, 500, 'text/plain', `metrics failed: ${err.message}\n`),
        )
        return
      default:
        reply(res, 404, 'text/plain', 'not found: try /healthz, /readyz, /metrics or /status\n')
    }
  }
}

/** Starts a server on ip:port; rejects with TARTAN_ERR_SOCKET (naming `flag`) when it cannot listen. */
export function listen(h: ReturnType<typeof handler>, ip: string, port: number, flag: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(h)
    server.keepAliveTimeout = 5000
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE'
        ? 'the port is in use; stop what uses it or choose another'
        : err.code === 'EADDRNOTAVAIL'
          ? 'no interface here has that address'
          : err.code === 'EACCES'
            ? 'permission denied (ports below 1024 need root)'
            : err.message
      reject(new TartanError('TARTAN_ERR_SOCKET', `cannot listen on ${ip}:${port} (${flag}): ${err.code ?? ''} ${why}`.replace(/ {2,}/g, ' ')))
    })
    server.listen({ host: ip, port }, () => resolve(server))
  })
}

/** Closes a server and its idle connections. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

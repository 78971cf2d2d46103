/**
 * HTTP GET from inside a topology namespace (a node's HTTP server binds there, out of the caller's reach):
 * a one-line Node client run with `ip netns exec`, bounded in time.
 */
import { TartanError } from '../errors.js'
import type { Topology } from '../topology/index.js'

export interface NetnsResponse {
  status: number
  body: string
  contentType: string
}

const CLIENT = `
const [url, ms] = process.argv.slice(1);
fetch(url, { signal: AbortSignal.timeout(Number(ms)) })
  .then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, contentType: r.headers.get('content-type') || '', body: await r.text() })))
  .catch((e) => { process.stdout.write(JSON.stringify({ error: String(e.cause?.code || e.message) })); process.exitCode = 1; });
`

/** GETs `url` from namespace `ns` of `topo`; throws TARTAN_ERR_STATE when nothing answers. */
export async function httpGetInNetns(topo: Topology, ns: string, url: string, timeoutMs = 3000): Promise<NetnsResponse> {
  const r = await topo.exec(ns, [process.execPath, '-e', CLIENT, url, String(timeoutMs)], { timeoutMs: timeoutMs + 5000 })
  let parsed: Partial<NetnsResponse> & { error?: string }
  try {
    parsed = JSON.parse(r.stdout) as Partial<NetnsResponse> & { error?: string }
  } catch {
    throw new TartanError('TARTAN_ERR_STATE', `GET ${url} in ${ns} failed: ${r.stderr.trim() || `exit ${r.code}`}`)
  }
  if (parsed.error !== undefined) throw new TartanError('TARTAN_ERR_STATE', `GET ${url} in ${ns} failed: ${parsed.error}`)
  return { status: parsed.status ?? 0, body: parsed.body ?? '', contentType: parsed.contentType ?? '' }
}

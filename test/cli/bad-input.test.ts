/**
 * Bad input to `tartan run`: each case exits 2 (usage) or 1 (runtime) with one line on stderr that says
 * what is wrong, and leaves nothing behind: no TUN device, no nftables table, no subnet.env (nor a staging
 * file). Every case passes --ip-masq so a leaked table would show.
 */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { cliCluster, leftovers, strayFiles, tartanOnce } from '../helpers/cli-cluster.js'
import { e2eUnavailable } from '../helpers/two-node-suite.js'

const skip = e2eUnavailable() ?? false

t.test('bad input: exit code, one clear line, nothing left behind', { skip }, async (t) => {
  const c = await cliCluster(t, 1, () => [])
  const h0 = c.topo.nodes[0]!
  const subnetFile = c.subnetFile(h0)
  const base = [`--store=sqlite:${join(c.dir, 'leases.db')}`, '--iface=eth0', `--subnet-file=${subnetFile}`, '--ip-masq',
    '--network=10.244.0.0/16', '--metrics-port=0']

  const check = async (t: Test, args: string[], code: number, message: RegExp, tun = 'tartan0') => {
    const r = await tartanOnce(c.topo, h0.hostNs, ['run', ...args])
    t.equal(r.code, code, `exit ${code}`)
    t.match(r.stderr, message)
    t.equal(r.stderr.split('\n').filter((l) => l !== '').length, 1, `one line: ${r.stderr}`)
    const left = await leftovers(c.topo, h0.hostNs, tun)
    t.same(left.nftTables, [], 'no nftables table')
    t.notOk(existsSync(subnetFile) && statSync(subnetFile).isFile(), 'no subnet.env')
    t.same(strayFiles(subnetFile).filter((f) => f !== 'subnet.env'), [], 'no staging file')
    return left
  }

  t.test('an unknown flag: exit 2', async (t) => {
    await check(t, [...base, '--bogus'], 2, /^tartan run: unknown flag --bogus \(see tartan run --help\)\n$/)
  })

  t.test('a bad CIDR: exit 2', async (t) => {
    await check(t, [...base, '--network=10.244.0.0/33'], 2,
      /^tartan run: --network: Network "10\.244\.0\.0\/33" is invalid: prefix length must be 0\.\.32 .*\(see tartan run --help\)\n$/)
  })

  t.test('an unreachable store: exit 1', async (t) => {
    const left = await check(t, [...base, '--store=etcd', '--etcd-endpoints=http://127.0.0.1:1'], 1,
      /^tartan run: etcd:http:\/\/127\.0\.0\.1:1\/coreos\.com\/network: cannot read the network config: .*ECONNREFUSED.*check that etcd is running and reachable \(and that the endpoint scheme, http or https, matches its listener\)\n$/)
    t.equal(left.tun, false, 'no TUN')
  })

  t.test('a port in use: exit 1', async (t) => {
    const holder = c.topo.spawn(h0.hostNs, [process.execPath, '-e', 'require("node:net").createServer().listen(8471, () => console.log("up"))'], { stdio: ['ignore', 'pipe', 'ignore'] })
    t.teardown(() => { holder.kill() })
    await new Promise((r) => holder.stdout!.once('data', r))
    const left = await check(t, [...base, '--healthz-port=8471'], 1,
      /^tartan run: cannot listen on 0\.0\.0\.0:8471 \(--healthz-port\): EADDRINUSE the port is in use; stop what uses it or choose another\n$/)
    t.equal(left.tun, false, 'no TUN')
  })

  t.test('a TUN name taken by another link: exit 1', async (t) => {
    await c.topo.ip(h0.hostNs, ['link', 'add', 'taken0', 'type', 'bridge'])
    t.teardown(() => c.topo.ip(h0.hostNs, ['link', 'del', 'taken0']))
    const left = await check(t, [...base, '--tun-name=taken0'], 1,
      /^tartan run: opening TUN device taken0 failed: EINVAL \(invalid argument\)\. A link named taken0 exists and is not a TUN device, or the name is invalid\.\n$/, 'taken0')
    t.equal(left.tun, true, 'the other link is still there, untouched')
    t.equal((await leftovers(c.topo, h0.hostNs)).tun, false, 'no tartan0 either')
  })

  t.test('a failure after everything was up (subnet.env cannot be written): exit 1, all of it undone', async (t) => {
    mkdirSync(subnetFile, { recursive: true }) // a directory where subnet.env should go
    t.teardown(() => rmSync(subnetFile, { recursive: true, force: true }))
    const left = await check(t, base, 1, /^tartan run: cannot write .*subnet\.env: EISDIR/)
    t.equal(left.tun, false, 'the TUN device was removed')
  })
})

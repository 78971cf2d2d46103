import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { dockerOpts, formatDockerOpts } from '../../src/cli/docker-opts.js'

const ENV = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n'
const ROOT = new URL('../../', import.meta.url).pathname
const base = { individual: false, combined: false, key: 'DOCKER_OPTS', ipMasq: true }

t.test('options in mk-docker-opts.sh order; --ip-masq is the opposite of FLANNEL_IPMASQ', async (t) => {
  t.same(dockerOpts(ENV, true), [['DOCKER_OPT_BIP', '--bip=10.244.7.1/24'], ['DOCKER_OPT_IPMASQ', '--ip-masq=true'], ['DOCKER_OPT_MTU', '--mtu=1450']])
  t.same(dockerOpts(ENV.replace('IPMASQ=false', 'IPMASQ=true'), true)[1], ['DOCKER_OPT_IPMASQ', '--ip-masq=false'], 'the node masquerades, so Docker must not')
  t.same(dockerOpts(ENV, false).map(([k]) => k), ['DOCKER_OPT_BIP', 'DOCKER_OPT_MTU'], '-m leaves --ip-masq out')
  t.throws(() => dockerOpts(ENV.replace('IPMASQ=false', 'IPMASQ=yes'), true), /invalid value of FLANNEL_IPMASQ: yes/)
})

t.test('plain, individual (-i) and combined (-c, -k) output, byte for byte as mk-docker-opts.sh writes it', async (t) => {
  const opts = dockerOpts(ENV, true)
  t.equal(formatDockerOpts(opts, base), '--bip=10.244.7.1/24 --ip-masq=true --mtu=1450\n')
  t.equal(formatDockerOpts(opts, { ...base, combined: true }), 'DOCKER_OPTS=" --bip=10.244.7.1/24 --ip-masq=true --mtu=1450"\n')
  t.equal(formatDockerOpts(opts, { ...base, individual: true, combined: true, key: 'OPTS', existing: '--debug' }),
    'DOCKER_OPT_BIP="--bip=10.244.7.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=true"\nDOCKER_OPT_MTU="--mtu=1450"\nOPTS="--debug  --bip=10.244.7.1/24 --ip-masq=true --mtu=1450"\n')
})

t.test('the command reads subnet.env and prints, or writes -d FILE; a missing file is a runtime error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tartan-dockeropts-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'subnet.env'), ENV)
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', `${ROOT}src/cli/main.ts`, 'docker-opts', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DOCKER_OPTS: '' } })
  const r = cli('-f', join(dir, 'subnet.env'), '-c')
  t.equal(r.status, 0, r.stderr)
  t.equal(r.stdout, 'DOCKER_OPTS=" --bip=10.244.7.1/24 --ip-masq=true --mtu=1450"\n')
  const w = cli(`--subnet-file=${join(dir, 'subnet.env')}`, '-d', join(dir, 'docker_opts.env'), '-i')
  t.equal(w.status, 0, w.stderr)
  t.equal(readFileSync(join(dir, 'docker_opts.env'), 'utf8'), 'DOCKER_OPT_BIP="--bip=10.244.7.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=true"\nDOCKER_OPT_MTU="--mtu=1450"\n')
  const missing = cli('-f', join(dir, 'nope.env'))
  t.equal(missing.status, 1)
  t.match(missing.stderr, /^tartan docker-opts: cannot read .*nope\.env: ENOENT; is `tartan run` \(or flanneld\) running and ready\?\n$/)
  const bad = cli('-x')
  t.equal(bad.status, 2)
  t.equal(bad.stderr, 'tartan docker-opts: unknown flag -x (see tartan docker-opts --help)\n')
})

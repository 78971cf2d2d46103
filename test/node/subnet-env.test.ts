import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { formatCidr, parseCidr } from '../../src/config/cidr.js'
import {
  formatSubnetEnv,
  overlayMtu,
  parseEnvFile,
  readPreviousSubnet,
  writeSubnetEnv,
} from '../../src/node/subnet-env.js'

const fixture = (name: string) => readFileSync(new URL(`../fixtures/flannel/${name}`, import.meta.url), 'utf8')
const net = (s: string) => {
  const c = parseCidr(s)
  if (!c.ok) throw new Error(c.reason)
  return c.net
}

t.test('subnet.env is byte for byte flannel format', async (t) => {
  t.equal(
    formatSubnetEnv({ network: net('10.244.0.0/16'), subnet: net('10.244.7.0/24'), mtu: overlayMtu('udp', 1500), ipMasq: false }),
    fixture('subnet-udp.env'),
  )
  t.equal(
    formatSubnetEnv({ network: net('10.244.0.0/16'), subnet: net('10.244.8.0/24'), mtu: overlayMtu('vxlan', 1500), ipMasq: true }),
    fixture('subnet-vxlan.env'),
  )
})

t.test('written atomically, mode 0644 whatever the umask, directories created', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'run', 'flannel', 'subnet.env')
  const old = process.umask(0o077)
  try {
    writeSubnetEnv(path, { network: net('10.244.0.0/16'), subnet: net('10.244.7.0/24'), mtu: 1472, ipMasq: false })
  } finally {
    process.umask(old)
  }
  t.equal(readFileSync(path, 'utf8'), fixture('subnet-udp.env'))
  t.equal(statSync(path).mode & 0o777, 0o644)
  writeSubnetEnv(path, { network: net('10.244.0.0/16'), subnet: net('10.244.8.0/24'), mtu: 1450, ipMasq: true })
  t.equal(readFileSync(path, 'utf8'), fixture('subnet-vxlan.env'), 'replaced in place')
  t.same(readdirSync(join(dir, 'run', 'flannel')), ['subnet.env'], 'no temporary file left behind')
})

t.test('a write that cannot happen is TARTAN_ERR_SUBNET_FILE and leaves nothing behind', async (t) => {
  const dir = t.testdir({ ro: {} })
  if (process.getuid?.() === 0) {
    // root ignores directory permissions: use a path whose parent is a file instead.
    writeFileSync(join(dir, 'file'), '')
    t.throws(
      () => writeSubnetEnv(join(dir, 'file', 'subnet.env'), { network: net('10.244.0.0/16'), subnet: net('10.244.7.0/24'), mtu: 1472, ipMasq: false }),
      { code: 'TARTAN_ERR_SUBNET_FILE' },
    )
    return
  }
  chmodSync(join(dir, 'ro'), 0o500)
  t.throws(
    () => writeSubnetEnv(join(dir, 'ro', 'subnet.env'), { network: net('10.244.0.0/16'), subnet: net('10.244.7.0/24'), mtu: 1472, ipMasq: false }),
    { code: 'TARTAN_ERR_SUBNET_FILE' },
  )
  t.same(readdirSync(join(dir, 'ro')), [])
})

t.test('the previous subnet is read back from FLANNEL_SUBNET with host bits masked', async (t) => {
  const dir = t.testdir({ 'subnet.env': fixture('subnet-udp.env') })
  const prev = readPreviousSubnet(join(dir, 'subnet.env'))
  t.equal(prev.subnet && formatCidr(prev.subnet), '10.244.7.0/24')
  t.equal(prev.warning, undefined)
})

t.test('no previous subnet: missing file silently, unusable contents with a warning', async (t) => {
  const dir = t.testdir({
    'none.env': 'FLANNEL_NETWORK=10.244.0.0/16\n',
    'bad.env': 'FLANNEL_SUBNET=banana\n',
    'two.env': 'FLANNEL_SUBNET=10.244.7.1/24,10.244.8.1/24\n',
  })
  t.same(readPreviousSubnet(join(dir, 'missing.env')), { subnet: null })
  for (const f of ['none.env', 'bad.env', 'two.env']) {
    const p = readPreviousSubnet(join(dir, f))
    t.equal(p.subnet, null, f)
    t.type(p.warning, 'string', `${f} warns`)
  }
  mkdirSync(join(dir, 'adir.env'))
  t.type(readPreviousSubnet(join(dir, 'adir.env')).warning, 'string', 'unreadable warns')
})

t.test('env parsing follows godotenv for the forms these files take', async (t) => {
  const env = parseEnvFile('# comment\n\nexport FLANNEL_SUBNET="10.244.7.1/24"\nFLANNEL_MTU=1450 # trailing\nFLANNEL_IPMASQ=\'false\'\r\nnot a line\n')
  t.equal(env.get('FLANNEL_SUBNET'), '10.244.7.1/24')
  t.equal(env.get('FLANNEL_MTU'), '1450')
  t.equal(env.get('FLANNEL_IPMASQ'), 'false')
  t.equal(env.size, 3)
})

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { DEMO_FLAGS, DOCKER_OPTS_FLAGS, RUN_FLAGS, STATUS_FLAGS, envName, formatFlagHelp, parseFlags } from '../../src/cli/flags.js'
import { runOptions } from '../../src/cli/run-options.js'

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseFlags(RUN_FLAGS, argv, env, 'run')

t.test('flags take Go flag syntax: -name, --name, =value or the next argument; booleans stand alone', async (t) => {
  const f = parse(['-iface', 'eth1', '--public-ip=198.18.0.9', '--ip-masq', '--healthz-port', '8471', '-subnet-lease-renew-margin=30'])
  t.same(f.values.iface, ['eth1'])
  t.equal(f.values['public-ip'], '198.18.0.9')
  t.equal(f.values['ip-masq'], true)
  t.equal(f.values['healthz-port'], 8471)
  t.equal(f.values['subnet-lease-renew-margin'], 30)
  t.equal(parse(['--ip-masq=false']).values['ip-masq'], false)
  t.same(parse(['--iface=eth0', '--iface', 'eth1,198.18.0.1']).values.iface, ['eth0', 'eth1', '198.18.0.1'], '--iface repeats, in order')
  t.same(parse(['--', '--not-a-flag']).positional, ['--not-a-flag'])
})

t.test('defaults are flanneld\'s for flanneld\'s flags', async (t) => {
  const v = parse([]).values
  t.equal(v['etcd-endpoints'], 'http://127.0.0.1:4001,http://127.0.0.1:2379')
  t.equal(v['etcd-prefix'], '/coreos.com/network')
  t.equal(v['subnet-file'], '/run/flannel/subnet.env')
  t.equal(v['subnet-lease-renew-margin'], 60)
  t.equal(v['ip-masq'], false)
  t.equal(v['healthz-ip'], '0.0.0.0')
  t.equal(v['healthz-port'], 0)
})

t.test('each flag also comes from TARTAN_<FLAG>, flanneld\'s from FLANNELD_<FLAG>; the command line wins, then TARTAN_', async (t) => {
  t.equal(envName('subnet-lease-renew-margin'), 'TARTAN_SUBNET_LEASE_RENEW_MARGIN')
  const env = { TARTAN_PUBLIC_IP: '198.18.0.5', FLANNELD_PUBLIC_IP: '198.18.0.6', FLANNELD_IP_MASQ: 'true', FLANNELD_METRICS_PORT: '1', TARTAN_IFACE: 'eth0,eth1' }
  const f = parse([], env)
  t.equal(f.values['public-ip'], '198.18.0.5')
  t.equal(f.values['ip-masq'], true)
  t.equal(f.values['metrics-port'], 8286, 'tartan-only flags ignore FLANNELD_')
  t.same(f.values.iface, ['eth0', 'eth1'])
  t.ok(f.explicit.has('public-ip'))
  t.equal(parse(['--public-ip=198.18.0.7'], env).values['public-ip'], '198.18.0.7')
  t.throws(() => parse([], { TARTAN_HEALTHZ_PORT: 'x' }), /TARTAN_HEALTHZ_PORT: "x" is not an integer/)
})

t.test('mistakes are usage errors naming the flag', async (t) => {
  t.throws(() => parse(['--bogus']), { name: 'UsageError', message: 'unknown flag --bogus', command: 'run' })
  t.throws(() => parse(['--bogus=1']), { message: 'unknown flag --bogus' })
  t.throws(() => parse(['--healthz-port']), { message: '--healthz-port needs a value (PORT)' })
  t.throws(() => parse(['--healthz-port=70000']), { message: '--healthz-port: 70000 is out of range (0..65535)' })
  t.throws(() => parse(['--ip-masq=maybe']), { message: '--ip-masq: "maybe" is not a boolean (true or false)' })
  t.throws(() => parse(['--subnet-lease-renew-margin=1440']), /out of range \(1\.\.1439\)/)
})

t.test('run options: the store is the embedded SQLite file unless etcd is asked for', async (t) => {
  t.same(runOptions(parse([])).store, { kind: 'sqlite', path: '/var/lib/tartan/leases.db' })
  t.same(runOptions(parse(['--store=/tmp/x/leases.db'])).store, { kind: 'sqlite', path: '/tmp/x/leases.db' })
  t.same(runOptions(parse(['--store=sqlite:/tmp/y'])).store, { kind: 'sqlite', path: '/tmp/y' })
  t.same(runOptions(parse(['--etcd-endpoints=http://198.18.0.9:2379'])).store, { kind: 'etcd', endpoints: ['http://198.18.0.9:2379'], prefix: '/coreos.com/network' },
    'a flanneld command line (etcd endpoints) selects etcd')
  t.same(runOptions(parse(['--store=etcd', '--etcd-cafile=/ca', '--etcd-certfile=/c', '--etcd-keyfile=/k', '--etcd-username=u', '--etcd-password=p'])).store, {
    kind: 'etcd', endpoints: ['http://127.0.0.1:4001', 'http://127.0.0.1:2379'], prefix: '/coreos.com/network',
    tls: { caFile: '/ca', certFile: '/c', keyFile: '/k' }, auth: { username: 'u', password: 'p' },
  })
  t.same(runOptions(parse(['--store=sqlite:/a.db', '--etcd-endpoints=http://x:1'])).store.kind, 'sqlite', '--store wins')
  t.throws(() => runOptions(parse(['--store=mysql'])), /--store "mysql": use sqlite:FILE/)
  t.throws(() => runOptions(parse(['--store=etcd', '--etcd-endpoints=ftp://x'])), /must be an http:\/\/ or https:\/\/ URL/)
  t.throws(() => runOptions(parse(['--store=etcd', '--etcd-certfile=/c'])), /go together/)
})

t.test('run options: --network is JSON, @FILE or a CIDR, validated as flannel does', async (t) => {
  t.equal(runOptions(parse(['--network=10.244.0.0/16'])).network, '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}')
  t.equal(runOptions(parse(['--network=10.244.0.0/16', '--backend=udp'])).network, '{"Network":"10.244.0.0/16","Backend":{"Type":"udp"}}')
  const json = '{"Network":"10.244.0.0/16","SubnetLen":26,"Backend":{"Type":"udp"}}'
  t.equal(runOptions(parse([`--network=${json}`])).network, json)
  const dir = mkdtempSync(join(tmpdir(), 'tartan-flags-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'net-conf.json'), json)
  t.equal(runOptions(parse([`--network=@${join(dir, 'net-conf.json')}`])).network, json)
  t.throws(() => runOptions(parse(['--network=10.244.0.0/33'])), { name: 'UsageError', message: /Network "10\.244\.0\.0\/33" is invalid/ })
  t.throws(() => runOptions(parse(['--network=10.244.1.0/16'])), { name: 'UsageError' }, 'host bits set')
  t.throws(() => runOptions(parse([`--network=${json}`, '--backend=vxlan'])), /names backend udp but --backend is vxlan/)
  t.throws(() => runOptions(parse(['--network=@/nonexistent/x.json'])), /cannot read \/nonexistent\/x\.json: ENOENT/)
  t.equal(runOptions(parse([])).network, undefined)
})

t.test('run options: every other value is checked before anything starts', async (t) => {
  t.throws(() => runOptions(parse(['--public-ip=1.2.3'])), /--public-ip "1\.2\.3" is not an IPv4 address/)
  t.throws(() => runOptions(parse(['--healthz-ip=::1'])), /--healthz-ip/)
  t.throws(() => runOptions(parse(['--tun-name=this-name-is-too-long'])), /--tun-name/)
  t.throws(() => runOptions(parse(['--log-level=loud'])), /--log-level "loud": use debug, info, warn, error/)
  t.throws(() => runOptions(parse(['--backend=host-gw'])), /--backend "host-gw": use udp or vxlan/)
  t.throws(() => runOptions(parse(['extra'])), /unexpected argument "extra"/)
  const o = runOptions(parse(['--subnet-lease-renew-margin=30', '--ip-masq', '--iface=eth1']))
  t.equal(o.renewMarginMs, 30 * 60_000)
  t.equal(o.ipMasq, true)
  t.same(o.iface, ['eth1'])
  t.equal(o.tunName, 'tartan0')
  t.equal(o.metricsPort, 8286)
})

t.test('help lists every flag with its environment variables, and docs/cli.md documents every flag', async (t) => {
  const doc = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8')
  for (const [command, specs] of [['run', RUN_FLAGS], ['demo', DEMO_FLAGS], ['status', STATUS_FLAGS], ['docker-opts', DOCKER_OPTS_FLAGS]] as const) {
    const help = formatFlagHelp(specs)
    for (const s of specs) {
      t.match(help, `--${s.name}`, `${command} help has --${s.name}`)
      t.match(help, envName(s.name), `${command} help has ${envName(s.name)}`)
      t.match(doc, `--${s.name}`, `docs/cli.md documents ${command} --${s.name}`)
    }
  }
})

t.test('run options: offloads are on unless --offload=false (or TARTAN_OFFLOAD=false)', async (t) => {
  t.equal(runOptions(parse([])).offload, true)
  t.equal(runOptions(parse(['--offload=false'])).offload, false)
  t.equal(runOptions(parse([], { TARTAN_OFFLOAD: 'false' })).offload, false)
  t.throws(() => runOptions(parse(['--offload=maybe'])), /not a boolean/)
})

t.test('run options: busy polling is 50 us unless --busy-poll-us (or TARTAN_BUSY_POLL_US) says otherwise', async (t) => {
  t.equal(runOptions(parse([])).busyPollUs, 50)
  t.equal(runOptions(parse(['--busy-poll-us', '0'])).busyPollUs, 0)
  t.equal(runOptions(parse([], { TARTAN_BUSY_POLL_US: '200' })).busyPollUs, 200)
  t.throws(() => runOptions(parse(['--busy-poll-us', '5000'])), /busy-poll-us/)
  t.throws(() => runOptions(parse(['--busy-poll-us', 'soon'])), /busy-poll-us/)
})

t.test('run options: --iface-regex repeats and must compile; --iface-can-reach must be an IPv4 address', async (t) => {
  t.same(runOptions(parse([])).ifaceRegex, [])
  t.equal(runOptions(parse([])).ifaceCanReach, undefined)
  t.same(runOptions(parse(['--iface-regex', '^ens', '--iface-regex=^eth'])).ifaceRegex, ['^ens', '^eth'])
  t.same(runOptions(parse([], { FLANNELD_IFACE_REGEX: '^ens,^eth' })).ifaceRegex, ['^ens', '^eth'])
  t.equal(runOptions(parse(['--iface-can-reach', '198.18.0.1'])).ifaceCanReach, '198.18.0.1')
  t.throws(() => runOptions(parse(['--iface-regex', '(eth'])), /--iface-regex "\(eth" is not a valid regular expression/)
  t.throws(() => runOptions(parse(['--iface-can-reach', 'router'])), /--iface-can-reach "router" is not an IPv4 address/)
})

import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { etcdSkip, startEtcdInNetns } from '../helpers/etcd.js'

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root: creates a network namespace'
  return etcdSkip()
}

t.test('startEtcdInNetns runs etcd inside a namespace, on its address, stopped by pid', { skip: skipReason() }, async (t) => {
  const ns = `tartan-${process.pid}-${randomBytes(3).toString('hex')}-etcd`
  execFileSync('ip', ['netns', 'add', ns])
  t.teardown(() => execFileSync('ip', ['netns', 'del', ns]))
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  execFileSync('ip', ['-n', ns, 'addr', 'add', '198.18.0.1/32', 'dev', 'lo'])
  const etcd = await startEtcdInNetns({ netns: ns, address: '198.18.0.1' }, t)
  t.equal(etcd.endpoint, 'http://198.18.0.1:2379')
  const health = execFileSync('ip', [
    'netns', 'exec', ns, process.execPath, '-e',
    `fetch('${etcd.endpoint}/health').then(r => r.text()).then(s => process.stdout.write(s))`,
  ]).toString()
  t.match(health, '"health":"true"', 'reachable inside the namespace')
  const pid = etcd.pid
  t.match(execFileSync('ip', ['netns', 'pids', ns]).toString(), String(pid), 'the pid is the etcd process in the namespace')
  await etcd.stop()
  t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'stopped')
})

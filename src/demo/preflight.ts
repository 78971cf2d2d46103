/**
 * What `tartan demo` needs from the machine, checked before it touches anything: Linux, root, the TUN
 * driver, iproute2's `ip`, `sysctl`, the native addon and the SQLite binding. Each missing piece is one
 * sentence saying what is missing and how to get it.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { PACKAGE_ROOT } from './entry.js'

function commandWorks(argv: string[]): boolean {
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 5000 })
  return r.error === undefined && r.status === 0
}

/** Returns null when the demo can run here, else a sentence naming what is missing and how to get it. */
export async function demoPreflight(): Promise<string | null> {
  if (process.platform !== 'linux') return 'Linux is needed (network namespaces and TUN devices): run it on a Linux machine or VM.'
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'root is needed to create network namespaces and TUN devices: run it with sudo (e.g. sudo npm start).'
  }
  if (!existsSync('/dev/net/tun')) {
    return '/dev/net/tun is missing: load the TUN driver with `sudo modprobe tun` (in a container: run it with --device /dev/net/tun --cap-add NET_ADMIN).'
  }
  if (!commandWorks(['ip', '-V'])) return 'the `ip` command (iproute2) is missing: install it (Debian/Ubuntu: sudo apt-get install iproute2).'
  if (!commandWorks(['sysctl', '-n', 'kernel.ostype'])) return 'the `sysctl` command is missing: install it (Debian/Ubuntu: sudo apt-get install procps).'
  try {
    const { native } = await import('../io/native.js')
    native()
  } catch {
    return 'the native addon is not built: run `npm install` in the tartan directory (it needs a C++ compiler, make and python3: sudo apt-get install build-essential python3).'
  }
  try {
    createRequire(join(PACKAGE_ROOT, 'package.json'))('better-sqlite3')
  } catch {
    return 'the SQLite binding (better-sqlite3) does not load: run `npm install` in the tartan directory (it needs the build tools: sudo apt-get install build-essential python3).'
  }
  return null
}

/**
 * Running code inside a network namespace. The native addon moves the calling (main) thread with setns();
 * everything opened meanwhile (TUN fds, UDP sockets, netlink requests) belongs to that namespace for good,
 * while the rest of the process stays where it was.
 */
import { Errno, systemError, TartanError } from '../errors.js'
import { native } from './native.js'

/** Where `ip netns add NAME` puts its namespaces. */
export const NETNS_RUN_DIR = '/var/run/netns'

/** Resolves a namespace name (`ns1`) to /var/run/netns/ns1; a path containing '/' is returned unchanged. */
export function netnsPath(nameOrPath: string): string {
  return nameOrPath.includes('/') ? nameOrPath : `${NETNS_RUN_DIR}/${nameOrPath}`
}

/**
 * Runs `fn` synchronously inside the network namespace `path` (a name from `ip netns add`, or a path such
 * as /proc/PID/ns/net; undefined = the current namespace) and always returns the thread to where it was.
 * `fn` must be synchronous: code after an `await` would run outside the namespace.
 */
export function withNetns<T>(path: string | undefined, fn: () => T): T {
  if (path === undefined) return fn()
  if (typeof path !== 'string' || path === '') {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `network namespace must be a non-empty name or path, got ${String(path)}`)
  }
  const addon = native()
  const target = netnsPath(path)
  const saved = addon.netnsSwitch(target)
  if (saved < 0) throw switchError(target, -saved)
  let result: T
  try {
    result = fn()
  } finally {
    const rc = addon.netnsRestore(saved)
    // Staying in the wrong namespace would silently misplace every later socket: fail loudly.
    if (rc < 0) throw systemError('TARTAN_ERR_STATE', `returning from network namespace ${target}`, -rc, 'The process is in an unknown network namespace; restart it.')
  }
  if (isThenable(result)) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', 'withNetns runs synchronous functions only: an async function would continue outside the namespace after its first await')
  }
  return result
}

function switchError(path: string, errno: number): TartanError {
  switch (errno) {
    case Errno.EPERM:
      return systemError('TARTAN_ERR_NOT_ROOT', `entering network namespace ${path}`, errno, 'Run as root (CAP_SYS_ADMIN is needed for setns).')
    case Errno.ENOENT:
      return systemError('TARTAN_ERR_INVALID_CONFIG', `entering network namespace ${path}`, errno, 'No such namespace: create it with `ip netns add NAME` or check the path.')
    case Errno.EINVAL: // the file is not a network namespace
      return systemError('TARTAN_ERR_INVALID_CONFIG', `entering network namespace ${path}`, errno, 'The path is not a network namespace (expected /var/run/netns/NAME or /proc/PID/ns/net).')
    default:
      return systemError('TARTAN_ERR_STATE', `entering network namespace ${path}`, errno, 'Check that the namespace exists and is readable.')
  }
}

function isThenable(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function'
}

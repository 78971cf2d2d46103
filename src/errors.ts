/**
 * Error classes with stable codes. Every error tartan raises to a caller is a TartanError whose `code`
 * never changes between releases and whose message says what to do about it.
 */
export type TartanErrorCode =
  | 'TARTAN_ERR_NATIVE_UNAVAILABLE'
  | 'TARTAN_ERR_NOT_ROOT'
  | 'TARTAN_ERR_TUN'
  | 'TARTAN_ERR_NETLINK'
  | 'TARTAN_ERR_SOCKET'
  | 'TARTAN_ERR_INVALID_ARGUMENT'
  | 'TARTAN_ERR_INVALID_CONFIG'
  | 'TARTAN_ERR_NO_ROUTE'
  | 'TARTAN_ERR_PEER_EXISTS'
  | 'TARTAN_ERR_UNKNOWN_PEER'
  | 'TARTAN_ERR_STATE'
  | 'TARTAN_ERR_STORE'
  | 'TARTAN_ERR_LEASE_LOST'
  | 'TARTAN_ERR_NO_FREE_SUBNET'
  | 'TARTAN_ERR_SUBNET_FILE'

export class TartanError extends Error {
  readonly code: TartanErrorCode
  readonly errno: number | undefined

  constructor(code: TartanErrorCode, message: string, options?: { cause?: unknown; errno?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'TartanError'
    this.code = code
    this.errno = options?.errno
  }
}

/** Builds the error for a failed system call: `what` failed with errno, plus what the user can do. */
export function systemError(code: TartanErrorCode, what: string, errno: number, hint: string): TartanError {
  const name = errnoName(errno)
  return new TartanError(code, `${what} failed: ${name}. ${hint}`, { errno })
}

/** Linux errno values (asm-generic/errno-base.h, errno.h) that tartan's code answers to by name. */
export const Errno = Object.freeze({
  EPERM: 1, ENOENT: 2, ESRCH: 3, EACCES: 13, EBUSY: 16, EEXIST: 17, ENODEV: 19, EINVAL: 22, ERANGE: 34,
  EADDRINUSE: 98, EADDRNOTAVAIL: 99, ENETUNREACH: 101,
} as const)

/** Returns the symbolic name of a (positive) errno, for example 'EPERM (operation not permitted)'. */
export function errnoName(errno: number): string {
  const n = Math.abs(errno)
  return ERRNO_NAMES[n] ?? `errno ${n}`
}

// Linux errno values (asm-generic/errno-base.h, errno.h) that tartan's system calls can return.
const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM (operation not permitted)',
  2: 'ENOENT (no such file or directory)',
  3: 'ESRCH (no such process or entry)',
  4: 'EINTR (interrupted system call)',
  5: 'EIO (input/output error)',
  9: 'EBADF (bad file descriptor)',
  11: 'EAGAIN (resource temporarily unavailable)',
  12: 'ENOMEM (out of memory)',
  13: 'EACCES (permission denied)',
  16: 'EBUSY (device or resource busy)',
  17: 'EEXIST (already exists)',
  19: 'ENODEV (no such device)',
  22: 'EINVAL (invalid argument)',
  24: 'EMFILE (too many open files)',
  34: 'ERANGE (result out of range)',
  90: 'EMSGSIZE (message too long)',
  93: 'EPROTONOSUPPORT (protocol not supported)',
  95: 'EOPNOTSUPP (operation not supported)',
  97: 'EAFNOSUPPORT (address family not supported)',
  98: 'EADDRINUSE (address already in use)',
  99: 'EADDRNOTAVAIL (address not available)',
  101: 'ENETUNREACH (network unreachable)',
  105: 'ENOBUFS (no buffer space available)',
  111: 'ECONNREFUSED (connection refused)',
  113: 'EHOSTUNREACH (no route to host)',
}

/**
 * A mistake on the command line (unknown flag, malformed value): `tartan` prints its message and exits 2.
 * Every other failure is a runtime error and exits 1.
 */
export class UsageError extends Error {
  /** The command whose --help to point at, e.g. 'run'. */
  readonly command: string | undefined

  constructor(message: string, command?: string) {
    super(message)
    this.name = 'UsageError'
    this.command = command
  }
}

/**
 * tartan's logs: one JSON object per line on standard output (pino), written synchronously so nothing is
 * lost when the process exits. Lines carry `level` as a word, `time` as ISO 8601, `msg`, and for events an
 * `event` name plus its fields (see docs/cli.md, "Logs").
 */
import pino, { type Logger } from 'pino'
import type { LogLevel } from './run-options.js'

export type { Logger }

/** A logger at `level` writing JSON lines to file descriptor `fd` (default stdout). */
export function createLogger(level: LogLevel, fd = 1): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd, sync: true }),
  )
}

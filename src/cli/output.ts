/**
 * How every command speaks: JSON on stdout for scripts; on failure one line on stderr and exit 1.
 */
import { ConfigError, ConflictError, StoreUnavailableError, UsageError } from '../errors.js'

export { UsageError } from '../errors.js'

/** Prints a command's result as JSON. */
export function printJSON(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

/** One line, no stack: what went wrong and, where it helps, what to do. */
export function describeFailure(err: unknown): string {
  if (
    err instanceof UsageError ||
    err instanceof ConfigError ||
    err instanceof ConflictError ||
    err instanceof StoreUnavailableError
  ) {
    return err.message
  }
  if (err instanceof Error && 'code' in err && err.code === 'EADDRINUSE') {
    return `${err.message}: is another server running on that port?`
  }
  return err instanceof Error
    ? `unexpected error: ${err.message}`
    : `unexpected error: ${String(err)}`
}

/** Reports a failure on stderr as one line and exits non-zero. */
export function fail(err: unknown): never {
  process.stderr.write(`latchkey: ${describeFailure(err).replace(/\s*\n\s*/g, ' ')}\n`)
  process.exit(1)
}

/**
 * Recording the audit log: each operator action and security event is appended to the store
 * (`audit_events`, read by `latchkey audit list`) and, where a logger is at hand (the server), written
 * as one JSON log line with `audit: true`. A failed write never fails the action or the request that
 * caused it: it is logged and counted (`latchkey_audit_write_failures_total`). Details never carry a
 * secret, a password or a token.
 */
import type { Logger } from 'pino'
import type { Counter } from 'prom-client'
import type { Store } from '../store/types.js'

/** The actor of events the server records by itself (security events). */
export const SERVER_ACTOR = '-'

/** Who acts, from where, and where to report: what an admin operation's caller passes in. */
export interface AuditContext {
  /** `cli:<os user>`, an admin API caller, or `-` for the server. */
  actor: string
  /** The remote address of the request; `null` or absent for the CLI. */
  address?: string | null
  /** The server's logger: the event's JSON line, and failed writes. */
  logger?: Logger
  /** `latchkey_audit_write_failures_total`. */
  failures?: Counter
  /** Seconds since the epoch; default: the system clock. */
  clock?: () => number
}

/** What happened: the event before its time, actor and address are added. */
export interface AuditEntry {
  kind: string
  subject: string | null
  details?: Record<string, unknown>
}

const systemClock = (): number => Math.floor(Date.now() / 1000)

/**
 * Records `entry` by `context`'s actor. Resolves once the store has it, or once its failure is
 * reported (never rejects).
 */
export async function recordAudit(
  store: Store,
  context: AuditContext,
  entry: AuditEntry,
): Promise<void> {
  const address = context.address ?? null
  const details = entry.details ?? {}
  context.logger?.info(
    {
      audit: true,
      kind: entry.kind,
      actor: context.actor,
      subject: entry.subject,
      address,
      details,
    },
    `audit: ${entry.kind}`,
  )
  try {
    await store.appendAudit({
      at: (context.clock ?? systemClock)(),
      kind: entry.kind,
      actor: context.actor,
      subject: entry.subject,
      address,
      details,
    })
  } catch (error) {
    context.failures?.inc()
    if (context.logger !== undefined) {
      context.logger.error({ err: error, kind: entry.kind }, 'audit: the event could not be stored')
    } else {
      process.stderr.write(
        `latchkey: audit event ${entry.kind} not stored: ${(error as Error).message}\n`,
      )
    }
  }
}

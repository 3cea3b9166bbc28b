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

/** How long one (kind, key) of a repeated security event is recorded once: a minute. */
const REPEAT_SECONDS = 60
/** Keys remembered at most; past it, the memory starts over (a flood records a little more). */
const MAX_REMEMBERED = 10_000

/**
 * The server's own recorder of security events (actor `-`). Fire and forget: the request that
 * caused an event does not wait for its write. Events that an attacker can repeat at no cost (a
 * throttled login) pass a `once` key, recorded at most once a minute each, so that a flood of
 * refused requests cannot fill the log.
 */
export class SecurityAudit {
  private readonly recent = new Map<string, number>()

  constructor(
    private readonly store: Store,
    private readonly context: Omit<AuditContext, 'actor' | 'address'>,
  ) {}

  record(entry: AuditEntry, address: string | null, once?: string): void {
    if (once !== undefined) {
      const now = (this.context.clock ?? systemClock)()
      const key = `${entry.kind}\n${once}`
      const last = this.recent.get(key)
      if (last !== undefined && now - last < REPEAT_SECONDS) return
      if (this.recent.size >= MAX_REMEMBERED) this.recent.clear()
      this.recent.set(key, now)
    }
    void recordAudit(this.store, { ...this.context, actor: SERVER_ACTOR, address }, entry)
  }
}

/** At most 128 characters of a value a request presented (a client id, a username). */
export function shortened(value: string): string {
  return value.length > 128 ? `${value.slice(0, 128)}…` : value
}

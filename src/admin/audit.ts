/**
 * The audit log as operators read it: the operation behind `latchkey audit list` and the admin API.
 * Events come newest first; times print as ISO 8601. Mistakes throw `UsageError`.
 */
import { UsageError } from '../errors.js'
import type { AuditEvent, AuditFilter, Store } from '../store/types.js'

/** At most this many events in one listing. */
export const MAX_AUDIT_LIMIT = 1000
export const DEFAULT_AUDIT_LIMIT = 100

/** What `latchkey audit list` takes (each field is the flag of its name); all optional. */
export interface ListAuditOptions {
  /** At or after: an ISO 8601 time or seconds since the epoch. */
  since?: string
  /** At or before: an ISO 8601 time or seconds since the epoch. */
  until?: string
  actor?: string
  kind?: string
  /** 1 to 1000; default 100. */
  limit?: string | number
  /** Only events with an id below this one: the next page after a listing's last id. */
  before?: string | number
}

/** An audit event as listed. */
export interface AuditEventJSON {
  id: number
  /** ISO 8601. */
  at: string
  kind: string
  actor: string
  subject: string | null
  address: string | null
  details: Record<string, unknown>
}

export function auditEventJSON(e: AuditEvent): AuditEventJSON {
  return {
    id: e.id,
    at: new Date(e.at * 1000).toISOString(),
    kind: e.kind,
    actor: e.actor,
    subject: e.subject,
    address: e.address,
    details: e.details,
  }
}

/** A time given as seconds since the epoch or as an ISO 8601 date (with a time zone or `Z`). */
export function parseAuditTime(value: string, flag: string): number {
  const trimmed = value.trim()
  if (/^\d{1,12}$/.test(trimmed)) return Number(trimmed)
  if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2}))?$/.test(trimmed)) {
    const ms = Date.parse(trimmed)
    if (!Number.isNaN(ms)) return Math.floor(ms / 1000)
  }
  throw new UsageError(
    `${flag} must be an ISO 8601 time (2025-01-31T12:00:00Z) or seconds since the epoch`,
  )
}

function positiveInt(value: string | number, flag: string, max: number): number {
  const n =
    typeof value === 'number' ? value : /^\d{1,15}$/.test(value.trim()) ? Number(value) : NaN
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new UsageError(`${flag} must be a whole number from 1 to ${max}`)
  }
  return n
}

/** The store filter of `o`; throws `UsageError` naming the first bad option. */
export function auditFilter(o: ListAuditOptions): AuditFilter {
  const filter: AuditFilter = {
    limit:
      o.limit === undefined
        ? DEFAULT_AUDIT_LIMIT
        : positiveInt(o.limit, '--limit', MAX_AUDIT_LIMIT),
  }
  if (o.since !== undefined) filter.since = parseAuditTime(o.since, '--since')
  if (o.until !== undefined) filter.until = parseAuditTime(o.until, '--until')
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) {
    throw new UsageError('--since must not be after --until')
  }
  if (o.actor !== undefined) {
    if (o.actor === '') throw new UsageError('--actor must not be empty')
    filter.actor = o.actor
  }
  if (o.kind !== undefined) {
    if (!/^[a-z_]+\.[a-z_]+$/.test(o.kind)) {
      throw new UsageError('--kind must be an event kind such as client.created')
    }
    filter.kind = o.kind
  }
  if (o.before !== undefined)
    filter.before = positiveInt(o.before, '--before', Number.MAX_SAFE_INTEGER)
  return filter
}

/** The audit events that match `o`, newest first. */
export async function listAudit(store: Store, o: ListAuditOptions = {}): Promise<AuditEventJSON[]> {
  const filter = auditFilter(o)
  return (await store.listAudit(filter)).map(auditEventJSON)
}

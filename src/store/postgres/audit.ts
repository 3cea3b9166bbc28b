/**
 * The audit log of the PostgreSQL engine (`audit_events`, migration 11). Ids come from an identity
 * column: increasing in the order rows are inserted, never reused.
 */

import type { AuditEvent, AuditFilter, AuditInput } from '../types.js'
import { sql, type PgDatabase } from './connection.js'

const AUDIT_COLUMNS = 'id, at, kind, actor, subject, address, details'

interface AuditRow {
  id: number
  at: number
  kind: string
  actor: string
  subject: string | null
  address: string | null
  details: Record<string, unknown>
}

const INSERT_AUDIT = sql(
  'insert_audit',
  `INSERT INTO audit_events (at, kind, actor, subject, address, details)
   VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
)
const SELECT_AUDIT = sql(
  'select_audit',
  `SELECT ${AUDIT_COLUMNS} FROM audit_events
   WHERE ($1::bigint IS NULL OR at >= $1) AND ($2::bigint IS NULL OR at <= $2)
     AND ($3::text IS NULL OR actor = $3) AND ($4::text IS NULL OR kind = $4)
     AND ($5::bigint IS NULL OR id < $5)
   ORDER BY id DESC LIMIT $6`,
)
const PRUNE_AUDIT = sql('prune_audit', 'DELETE FROM audit_events WHERE at < $1')

export class PgAudit {
  constructor(private readonly db: PgDatabase) {}

  async append(event: AuditInput): Promise<number> {
    const [row] = await this.db.rows<{ id: number }>(INSERT_AUDIT, [
      event.at,
      event.kind,
      event.actor,
      event.subject,
      event.address,
      JSON.stringify(event.details),
    ])
    if (row === undefined) throw new Error('INSERT … RETURNING gave no row')
    return row.id
  }

  async list(filter: AuditFilter): Promise<AuditEvent[]> {
    const rows = await this.db.rows<AuditRow>(SELECT_AUDIT, [
      filter.since ?? null,
      filter.until ?? null,
      filter.actor ?? null,
      filter.kind ?? null,
      filter.before ?? null,
      filter.limit,
    ])
    return rows.map((row) => ({ ...row }))
  }

  pruneBefore(before: number): Promise<number> {
    return this.db.count(PRUNE_AUDIT, [before])
  }
}

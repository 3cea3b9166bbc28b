/**
 * The audit log of the SQLite engine (`audit_events`, migration 12). Synchronous: `SqliteStore`
 * wraps each call and maps driver errors. `AUTOINCREMENT` keeps ids increasing even once the newest
 * rows were pruned.
 */

import type Database from 'better-sqlite3'
import type { AuditEvent, AuditFilter, AuditInput } from '../types.js'

const AUDIT_COLUMNS = 'id, at, kind, actor, subject, address, details'

interface AuditRow {
  id: number
  at: number
  kind: string
  actor: string
  subject: string | null
  address: string | null
  details: string
}

function auditFromRow(row: AuditRow): AuditEvent {
  return { ...row, details: JSON.parse(row.details) as Record<string, unknown> }
}

interface ListParams {
  since: number | null
  until: number | null
  actor: string | null
  kind: string | null
  before: number | null
  limit: number
}

export class SqliteAudit {
  private readonly insert
  private readonly select
  private readonly prune

  constructor(main: Database.Database) {
    this.insert = main.prepare<[number, string, string, string | null, string | null, string]>(
      `INSERT INTO audit_events (at, kind, actor, subject, address, details)
       VALUES (?, ?, ?, ?, ?, ?)`,
    )
    this.select = main.prepare<[ListParams], AuditRow>(
      `SELECT ${AUDIT_COLUMNS} FROM audit_events
       WHERE (@since IS NULL OR at >= @since) AND (@until IS NULL OR at <= @until)
         AND (@actor IS NULL OR actor = @actor) AND (@kind IS NULL OR kind = @kind)
         AND (@before IS NULL OR id < @before)
       ORDER BY id DESC LIMIT @limit`,
    )
    this.prune = main.prepare<[number]>('DELETE FROM audit_events WHERE at < ?')
  }

  append(event: AuditInput): number {
    const result = this.insert.run(
      event.at,
      event.kind,
      event.actor,
      event.subject,
      event.address,
      JSON.stringify(event.details),
    )
    return Number(result.lastInsertRowid)
  }

  list(filter: AuditFilter): AuditEvent[] {
    return this.select
      .all({
        since: filter.since ?? null,
        until: filter.until ?? null,
        actor: filter.actor ?? null,
        kind: filter.kind ?? null,
        before: filter.before ?? null,
        limit: filter.limit,
      })
      .map(auditFromRow)
  }

  pruneBefore(before: number): number {
    return this.prune.run(before).changes
  }
}

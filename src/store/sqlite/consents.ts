/**
 * Remembered consents of the SQLite engine (`consents` table, see `./index.ts`). Synchronous:
 * `SqliteStore` wraps each call and maps driver errors. Revoking a consent ends sessions, so it lives
 * with the other durable writes in `./revoke.ts`.
 */

import type Database from 'better-sqlite3'
import type { ConsentRecord } from '../types.js'
import { consentFromRow, scopeUnion, CONSENT_COLUMNS, type ConsentRow } from './rows.js'

export class SqliteConsents {
  private readonly grantTx
  private readonly selectConsent
  private readonly selectByUser
  private readonly selectByClient
  private readonly selectAll

  constructor(main: Database.Database) {
    const selectScope = main
      .prepare<[string, string], string>(
        'SELECT scope FROM consents WHERE user_id = ? AND client_id = ?',
      )
      .pluck()
    const upsert = main.prepare<[string, string, string, number, number]>(
      `INSERT INTO consents (user_id, client_id, scope, granted_at, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope,
         updated_at = excluded.updated_at`,
    )
    // Run IMMEDIATE: the write lock is held from the read, so no concurrent grant is lost.
    this.grantTx = main.transaction(
      (userId: string, clientId: string, scope: string[], at: number): void => {
        const before = selectScope.get(userId, clientId)
        const merged = scopeUnion(
          before === undefined ? [] : (JSON.parse(before) as string[]),
          scope,
        )
        upsert.run(userId, clientId, JSON.stringify(merged), at, at)
      },
    )
    this.selectConsent = main.prepare<[string, string], ConsentRow>(
      `SELECT ${CONSENT_COLUMNS} FROM consents WHERE user_id = ? AND client_id = ?`,
    )
    this.selectByUser = main.prepare<[string], ConsentRow>(
      `SELECT ${CONSENT_COLUMNS} FROM consents WHERE user_id = ? ORDER BY client_id`,
    )
    this.selectByClient = main.prepare<[string], ConsentRow>(
      `SELECT ${CONSENT_COLUMNS} FROM consents WHERE client_id = ? ORDER BY user_id`,
    )
    this.selectAll = main.prepare<[], ConsentRow>(
      `SELECT ${CONSENT_COLUMNS} FROM consents ORDER BY user_id, client_id`,
    )
  }

  grant(userId: string, clientId: string, scope: string[], at: number): void {
    this.grantTx.immediate(userId, clientId, scope, at)
  }

  get(userId: string, clientId: string): ConsentRecord | null {
    const row = this.selectConsent.get(userId, clientId)
    return row === undefined ? null : consentFromRow(row)
  }

  list(filter: { userId?: string; clientId?: string }): ConsentRecord[] {
    const { userId, clientId } = filter
    if (userId !== undefined && clientId !== undefined) {
      const one = this.get(userId, clientId)
      return one === null ? [] : [one]
    }
    const rows =
      userId !== undefined
        ? this.selectByUser.all(userId)
        : clientId !== undefined
          ? this.selectByClient.all(clientId)
          : this.selectAll.all()
    return rows.map(consentFromRow)
  }
}

/**
 * Single-use values of the SQLite engine (`used_once` and `pushed_requests`, see `./index.ts`):
 * assertion and proof `jti`s (RFC 7523 §3, RFC 9449 §11.1) and pushed authorization requests
 * (RFC 9126). Synchronous: `SqliteStore` wraps each call and maps driver errors. Each operation is one
 * statement, so it is atomic across connections and processes sharing the file.
 */

import type Database from 'better-sqlite3'
import type { PushedRequestRecord } from '../types.js'

export class SqliteSingleUse {
  private readonly useOnceRow
  private readonly insertPushed
  private readonly takePushedRow
  private readonly pruneTx

  constructor(main: Database.Database) {
    // A first use inserts; a use of a value whose record has expired (live while now < expires_at)
    // takes the row over. A live row matches neither, so nothing changes: a replay.
    this.useOnceRow = main.prepare<[string, string, number, number]>(
      `INSERT INTO used_once (kind, key, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (kind, key) DO UPDATE SET expires_at = excluded.expires_at
         WHERE used_once.expires_at <= ?`,
    )
    this.insertPushed = main.prepare<[string, string, string, number]>(
      'INSERT INTO pushed_requests (hash, client_id, params, expires_at) VALUES (?, ?, ?, ?)',
    )
    // RFC 9126 §2.2: the request_uri is bound to the client that pushed it; single use. Another
    // client's take matches no row and so leaves it in place.
    this.takePushedRow = main
      .prepare<[string, string, number], string>(
        `DELETE FROM pushed_requests WHERE hash = ? AND client_id = ? AND expires_at > ?
         RETURNING params`,
      )
      .pluck()
    const pruneUsed = main.prepare<[number]>('DELETE FROM used_once WHERE expires_at < ?')
    const prunePushed = main.prepare<[number]>('DELETE FROM pushed_requests WHERE expires_at < ?')
    this.pruneTx = main.transaction(
      (now: number): number => pruneUsed.run(now).changes + prunePushed.run(now).changes,
    )
  }

  useOnce(kind: string, key: string, expiresAt: number, now: number): boolean {
    return this.useOnceRow.run(kind, key, expiresAt, now).changes === 1
  }

  putPushed(record: PushedRequestRecord): void {
    this.insertPushed.run(
      record.hash,
      record.clientId,
      JSON.stringify(record.params),
      record.expiresAt,
    )
  }

  takePushed(hash: string, clientId: string, now: number): Record<string, string> | null {
    const params = this.takePushedRow.get(hash, clientId, now)
    return params === undefined ? null : (JSON.parse(params) as Record<string, string>)
  }

  /** Deletes what expired before `now`; returns how many rows. */
  prune(now: number): number {
    return this.pruneTx(now)
  }
}

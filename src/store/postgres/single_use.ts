/**
 * Single-use values of the PostgreSQL engine (`used_once` and `pushed_requests`, see `./index.ts`):
 * assertion and proof `jti`s (RFC 7523 §3, RFC 9449 §11.1) and pushed authorization requests
 * (RFC 9126). Each operation is one statement: a concurrent insert of the same key waits for the
 * first to commit, then sees its row, so exactly one of them wins on any node.
 */

import type { PushedRequestRecord } from '../types.js'
import { sql, type PgDatabase } from './connection.js'

// A first use inserts; a use of a value whose record has expired (live while now < expires_at) takes
// the row over. A live row matches neither, so nothing is returned: a replay.
const USE_ONCE = sql(
  'use_once',
  `INSERT INTO used_once (kind, key, expires_at) VALUES ($1, $2, $3)
   ON CONFLICT (kind, key) DO UPDATE SET expires_at = excluded.expires_at
     WHERE used_once.expires_at <= $4::float8
   RETURNING 1`,
)
const INSERT_PUSHED = sql(
  'insert_pushed',
  'INSERT INTO pushed_requests (hash, client_id, params, expires_at) VALUES ($1, $2, $3, $4)',
)
// RFC 9126 §2.2: the request_uri is bound to the client that pushed it; single use. Another client's
// take matches no row and so leaves it in place.
const TAKE_PUSHED = sql(
  'take_pushed',
  `DELETE FROM pushed_requests WHERE hash = $1 AND client_id = $2 AND expires_at > $3::float8
   RETURNING params`,
)
const PRUNE_USED_ONCE = sql(
  'prune_used_once',
  'DELETE FROM used_once WHERE expires_at < ceil($1::float8)::bigint',
)
const PRUNE_PUSHED = sql(
  'prune_pushed',
  'DELETE FROM pushed_requests WHERE expires_at < ceil($1::float8)::bigint',
)

export class PgSingleUse {
  constructor(private readonly db: PgDatabase) {}

  async useOnce(kind: string, key: string, expiresAt: number, now: number): Promise<boolean> {
    return (await this.db.count(USE_ONCE, [kind, key, expiresAt, now])) === 1
  }

  async putPushed(record: PushedRequestRecord): Promise<void> {
    await this.db.count(INSERT_PUSHED, [
      record.hash,
      record.clientId,
      JSON.stringify(record.params),
      record.expiresAt,
    ])
  }

  async takePushed(
    hash: string,
    clientId: string,
    now: number,
  ): Promise<Record<string, string> | null> {
    const [row] = await this.db.rows<{ params: Record<string, string> }>(TAKE_PUSHED, [
      hash,
      clientId,
      now,
    ])
    return row === undefined ? null : row.params
  }

  /** Deletes what expired before `now`; returns how many rows. */
  async prune(now: number): Promise<number> {
    return (
      (await this.db.count(PRUNE_USED_ONCE, [now])) + (await this.db.count(PRUNE_PUSHED, [now]))
    )
  }
}

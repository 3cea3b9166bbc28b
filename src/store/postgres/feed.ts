/**
 * The revocation feed of the PostgreSQL engine (`revocations`, `revocation_feed`, see `./index.ts`):
 * appending events, matching them, listing them by `seq`, pruning them.
 *
 * Seqs come from an identity sequence, handed out in order but committed in any order: with two
 * appends in flight, seq 11 could commit before seq 10, and a reader that listed 11 and moved its
 * cursor past 10 would never see 10. So every append takes the feed's advisory lock first, inside its
 * transaction, and holds it until commit: seqs are assigned and become visible in one order, across
 * nodes. Revocations are rare next to token requests, so serialising them costs little.
 */

import type { RevocationEvent, RevocationInput, RevocationRef } from '../types.js'
import { LOCK, sql, type Queryable } from './connection.js'
import { REVOCATION_CHANNEL } from './notify.js'
import {
  REVOCATION_COLUMNS,
  revocationFromRow,
  revocationValues,
  type RevocationRow,
} from './rows.js'

/**
 * Appends one event (values from `revocationValues`) and returns its seq. One statement that takes
 * the feed lock before the identity hands out a seq: on its own it is its own transaction; inside a
 * larger one the lock is held until that commits. It also notifies `REVOCATION_CHANNEL`, which
 * PostgreSQL delivers to the listening nodes at commit (see `./notify.ts`).
 */
export const APPEND_REVOCATION = sql(
  'append_revocation',
  `INSERT INTO revocations (kind, value, client_id, created_at, expires_at)
   SELECT $1, $2, $3, $4, $5
   FROM (SELECT pg_advisory_xact_lock(${LOCK.feed}), pg_notify('${REVOCATION_CHANNEL}', '')) AS feed_lock
   RETURNING seq`,
)

/**
 * One query for any number of refs: the refs as two arrays joined to `revocations_kind_value`.
 * Parameters: kinds, values, `now`, `issuedAt`.
 */
const IS_REVOKED = sql(
  'is_revoked',
  `SELECT 1 FROM revocations r
   JOIN unnest($1::text[], $2::text[]) AS ref (kind, value)
     ON r.kind = ref.kind AND r.value = ref.value
   WHERE r.expires_at >= $3::float8
     -- sub and client events cover only what was issued at or before them.
     AND (r.kind NOT IN ('sub', 'client') OR r.created_at >= $4::float8)
   LIMIT 1`,
)

const LIST_REVOCATIONS = sql(
  'list_revocations',
  // `floor` takes any number as a cursor (seq > 10.5 is seq > 10) and keeps the comparison on
  // `bigint`, so the primary key serves it.
  `SELECT ${REVOCATION_COLUMNS} FROM revocations
   WHERE seq > floor($1::float8)::bigint ORDER BY seq LIMIT $2`,
)

/**
 * Deletes expired events and raises the pruned-through mark to the highest seq deleted, in one
 * statement (so one transaction). Strictly before `now`: an event is live through its `expiresAt`
 * second, as `isRevoked` reads it. `ceil` keeps the comparison on `bigint`, so the index serves it.
 */
const PRUNE_REVOCATIONS = sql(
  'prune_revocations',
  `WITH pruned AS (
     DELETE FROM revocations WHERE expires_at < ceil($1::float8)::bigint RETURNING seq
   ), mark AS (
     INSERT INTO revocation_feed (id, pruned_through)
     SELECT 1, max(seq) FROM pruned HAVING count(*) > 0
     ON CONFLICT (id) DO UPDATE
       SET pruned_through = greatest(revocation_feed.pruned_through, excluded.pruned_through)
   )
   SELECT count(*) AS count FROM pruned`,
)

const PRUNED_THROUGH = sql(
  'pruned_through',
  'SELECT pruned_through FROM revocation_feed WHERE id = 1',
)

export async function appendRevocation(db: Queryable, event: RevocationInput): Promise<number> {
  const [row] = await db.rows<{ seq: number }>(APPEND_REVOCATION, revocationValues(event))
  if (row === undefined) throw new Error('INSERT … RETURNING seq returned no row')
  return row.seq
}

export async function isRevoked(
  db: Queryable,
  refs: RevocationRef[],
  issuedAt: number,
  now: number,
): Promise<boolean> {
  if (refs.length === 0) return false
  const kinds = refs.map((ref) => ref.kind)
  const values = refs.map((ref) => ref.value)
  return (await db.rows(IS_REVOKED, [kinds, values, now, issuedAt])).length > 0
}

export async function listRevocations(
  db: Queryable,
  after: number,
  limit: number,
): Promise<RevocationEvent[]> {
  // The contract says "at most limit": nothing for 0 or less (PostgreSQL refuses a negative LIMIT).
  if (!(limit >= 1)) return []
  const rows = await db.rows<RevocationRow>(LIST_REVOCATIONS, [after, Math.floor(limit)])
  return rows.map(revocationFromRow)
}

export async function pruneRevocations(db: Queryable, now: number): Promise<number> {
  const [row] = await db.rows<{ count: number }>(PRUNE_REVOCATIONS, [now])
  return row?.count ?? 0
}

export async function prunedThrough(db: Queryable): Promise<number> {
  const [row] = await db.rows<{ pruned_through: number }>(PRUNED_THROUGH, [])
  return row?.pruned_through ?? 0
}

/**
 * Storage per session, measured: fills a fresh PostgreSQL database and a fresh SQLite file through the
 * store interface with N users, each with one live session, its current refresh token and the
 * rotated one before it (kept until it expires, for reuse detection), then prints the sizes and the
 * figure scaled to one million sessions.
 *
 *   node dist/bench/storage_size.js [N=100000]
 *
 * PostgreSQL: `LATCHKEY_TEST_POSTGRES` (default postgres://postgres@127.0.0.1:5432/test) names a
 * maintenance database; a throwaway `latchkey_size_<random>` is created and dropped.
 */

import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { NO_PROFILE } from '../src/profile.js'
import { createPostgresStore } from '../src/store/postgres/index.js'
import { createSqliteStore } from '../src/store/sqlite/index.js'
import type { RefreshTokenRecord, SessionRecord, Store, UserRecord } from '../src/store/types.js'

const MAINTENANCE_URL =
  process.env.LATCHKEY_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
const N = Number(process.argv[2] ?? 100_000)
const IN_FLIGHT = 32
const NOW = Math.floor(Date.now() / 1000)

const id = (): string => randomBytes(16).toString('base64url')
const hash = (): string => randomBytes(32).toString('base64url')
// The shape and length of a real argon2id hash string (src/tokens/secrets.ts); hashing is not measured.
const PASSWORD_HASH = `$argon2id$v=19$m=19456,t=2,p=1$${randomBytes(16).toString('base64')}$${randomBytes(32).toString('base64')}`

/** One user with one session, its current refresh token and its rotated predecessor. */
async function addUserSession(store: Store, i: number): Promise<void> {
  const user: UserRecord = {
    id: id(),
    username: `user${i}@example.com`,
    passwordHash: PASSWORD_HASH,
    createdAt: NOW,
    admin: false,
    ...NO_PROFILE,
  }
  await store.createUser(user)
  const session: SessionRecord = {
    id: id(),
    userId: user.id,
    clientId: 'web',
    scope: 'openid profile orders',
    createdAt: NOW,
    expiresAt: NOW + 30 * 86_400,
    idleExpiresAt: NOW + 14 * 86_400,
    revokedAt: null,
    loginHash: null,
    authTime: null,
    claims: [],
  }
  const first: RefreshTokenRecord = {
    hash: hash(),
    sessionId: session.id,
    clientId: 'web',
    userId: user.id,
    scope: session.scope,
    issuedAt: NOW,
    expiresAt: session.expiresAt,
    usedAt: null,
    successorHash: null,
    successorSealed: null,
    jkt: null,
  }
  await store.createSession(session, first, null)
  const successor: RefreshTokenRecord = { ...first, hash: hash(), issuedAt: NOW + 1 }
  // A sealed successor is about 100 characters of base64url.
  const sealed = randomBytes(75).toString('base64url')
  const outcome = await store.rotateRefreshToken(
    first.hash,
    successor,
    sealed,
    session.idleExpiresAt,
    NOW + 1,
  )
  if (outcome.outcome !== 'rotated') throw new Error(`rotation failed: ${outcome.outcome}`)
}

async function fill(store: Store): Promise<number> {
  const started = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < N) await addUserSession(store, next++)
    }),
  )
  return (performance.now() - started) / 1000
}

function report(engine: string, bytes: number, seconds: number, detail = ''): void {
  const perSession = bytes / N
  console.log(
    `${engine}: ${N} sessions in ${seconds.toFixed(1)} s, ${(bytes / 2 ** 20).toFixed(1)} MiB, ` +
      `${perSession.toFixed(0)} bytes per session, ${((perSession * 1e6) / 2 ** 30).toFixed(2)} GiB ` +
      `per million sessions${detail}`,
  )
}

async function measurePostgres(): Promise<void> {
  const name = `latchkey_size_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: MAINTENANCE_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  const url = new URL(MAINTENANCE_URL)
  url.pathname = `/${name}`
  try {
    const store = await createPostgresStore(url.href, { poolSize: IN_FLIGHT })
    const seconds = await fill(store)
    await store.close()
    const db = new pg.Client({ connectionString: url.href })
    await db.connect()
    await db.query('VACUUM ANALYZE')
    const { rows } = await db.query<{ table: string; bytes: string }>(
      `SELECT relname AS table, pg_total_relation_size(oid) AS bytes FROM pg_class
       WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 2 DESC`,
    )
    await db.end()
    const total = rows.reduce((sum, r) => sum + Number(r.bytes), 0)
    const tables = rows
      .filter((r) => Number(r.bytes) > 65_536)
      .map((r) => `${r.table} ${(Number(r.bytes) / 2 ** 20).toFixed(1)} MiB`)
      .join(', ')
    report('postgres (pg_total_relation_size)', total, seconds, ` [${tables}]`)
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  }
}

async function measureSqlite(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-size-'))
  try {
    const path = join(dir, 'latchkey.db')
    const store = createSqliteStore(path)
    const seconds = await fill(store)
    await store.close()
    // Closing checkpoints the WAL into the main file.
    report('sqlite (file size)', statSync(path).size, seconds)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const which = process.argv[3]
if (which !== 'sqlite') await measurePostgres()
if (which !== 'postgres') await measureSqlite()

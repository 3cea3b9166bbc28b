/**
 * Users of the PostgreSQL engine (`users` table, see `./index.ts`). Deleting a user takes access
 * away, so it lives with the other revoking writes in `./revoke.ts`.
 */

import type { UserProfile, UserRecord } from '../types.js'
import { sql, type PgDatabase } from './connection.js'
import {
  USER_COLUMNS,
  placeholders,
  profileValues,
  userFromRow,
  userValues,
  type UserRow,
} from './rows.js'

const INSERT_USER = sql(
  'insert_user',
  `INSERT INTO users (${USER_COLUMNS}) VALUES (${placeholders(10)})`,
)
const SELECT_USER = sql('select_user', `SELECT ${USER_COLUMNS} FROM users WHERE id = $1`)
// `=` under the column's "C" collation: an exact, case-sensitive match.
const SELECT_USER_BY_USERNAME = sql(
  'select_user_by_username',
  `SELECT ${USER_COLUMNS} FROM users WHERE username = $1`,
)
const SELECT_USERS = sql('select_users', `SELECT ${USER_COLUMNS} FROM users ORDER BY username`)
const UPDATE_PASSWORD_HASH = sql(
  'update_password_hash',
  'UPDATE users SET password_hash = $2 WHERE id = $1',
)
const UPDATE_PROFILE = sql(
  'update_user_profile',
  'UPDATE users SET email = $2, email_verified = $3, name = $4, given_name = $5, family_name = $6 ' +
    'WHERE id = $1',
)

const UPDATE_ADMIN = sql('update_user_admin', 'UPDATE users SET admin = $2 WHERE id = $1')

const UPDATE_LOGINS_UNLOCKED_AT = sql(
  'update_logins_unlocked_at',
  'UPDATE users SET logins_unlocked_at = $2 WHERE id = $1',
)
const SELECT_LOGINS_UNLOCKED_AT = sql(
  'select_logins_unlocked_at',
  'SELECT logins_unlocked_at FROM users WHERE username = $1',
)

export class PgUsers {
  constructor(private readonly db: PgDatabase) {}

  async create(user: UserRecord): Promise<void> {
    await this.db.count(INSERT_USER, userValues(user))
  }

  async get(id: string): Promise<UserRecord | null> {
    const [row] = await this.db.rows<UserRow>(SELECT_USER, [id])
    return row === undefined ? null : userFromRow(row)
  }

  async getByUsername(username: string): Promise<UserRecord | null> {
    const [row] = await this.db.rows<UserRow>(SELECT_USER_BY_USERNAME, [username])
    return row === undefined ? null : userFromRow(row)
  }

  async list(): Promise<UserRecord[]> {
    return (await this.db.rows<UserRow>(SELECT_USERS, [])).map(userFromRow)
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<boolean> {
    return (await this.db.count(UPDATE_PASSWORD_HASH, [id, passwordHash])) > 0
  }

  async setProfile(id: string, profile: UserProfile): Promise<boolean> {
    return (await this.db.count(UPDATE_PROFILE, [id, ...profileValues(profile)])) > 0
  }

  async setAdmin(id: string, admin: boolean): Promise<boolean> {
    return (await this.db.count(UPDATE_ADMIN, [id, admin])) > 0
  }

  async unlockLogins(id: string, at: number): Promise<boolean> {
    return (await this.db.count(UPDATE_LOGINS_UNLOCKED_AT, [id, at])) > 0
  }

  async getLoginsUnlockedAt(username: string): Promise<number | null> {
    const [row] = await this.db.rows<{ logins_unlocked_at: number | null }>(
      SELECT_LOGINS_UNLOCKED_AT,
      [username],
    )
    return row?.logins_unlocked_at ?? null
  }
}

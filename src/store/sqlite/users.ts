/**
 * Users of the SQLite engine (`users` table, see `./index.ts`). Synchronous: `SqliteStore` wraps each
 * call and maps driver errors. Deleting a user takes access away, so it lives with the other durable
 * writes in `./revoke.ts`.
 */

import type Database from 'better-sqlite3'
import type { UserProfile, UserRecord } from '../types.js'
import {
  USER_COLUMNS,
  profileParams,
  userFromRow,
  userParams,
  type Params,
  type UserRow,
} from './rows.js'

export class SqliteUsers {
  private readonly insertUser
  private readonly selectUser
  private readonly selectUserByUsername
  private readonly selectUsers
  private readonly updatePasswordHash
  private readonly updateProfile
  private readonly updateLoginsUnlockedAt
  private readonly updateAdmin
  private readonly selectLoginsUnlockedAt

  /** `main` for ordinary reads and writes, `durable` (`synchronous = FULL`) for a new password. */
  constructor(main: Database.Database, durable: Database.Database) {
    this.insertUser = main.prepare<Params>(
      `INSERT INTO users (${USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.selectUser = main.prepare<[string], UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE id = ?`,
    )
    // `=` under the column's BINARY collation: an exact, case-sensitive match.
    this.selectUserByUsername = main.prepare<[string], UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE username = ?`,
    )
    this.selectUsers = main.prepare<[], UserRow>(
      `SELECT ${USER_COLUMNS} FROM users ORDER BY username`,
    )
    // A password change usually follows a suspected compromise: once acknowledged, the old password
    // must not come back after a power loss.
    this.updatePasswordHash = durable.prepare<[string, string]>(
      'UPDATE users SET password_hash = ? WHERE id = ?',
    )
    this.updateProfile = main.prepare<Params>(
      'UPDATE users SET email = ?, email_verified = ?, name = ?, given_name = ?, family_name = ? ' +
        'WHERE id = ?',
    )
    this.updateAdmin = main.prepare<[number, string]>('UPDATE users SET admin = ? WHERE id = ?')
    this.updateLoginsUnlockedAt = main.prepare<[number, string]>(
      'UPDATE users SET logins_unlocked_at = ? WHERE id = ?',
    )
    this.selectLoginsUnlockedAt = main
      .prepare<[string], number | null>('SELECT logins_unlocked_at FROM users WHERE username = ?')
      .pluck()
  }

  create(user: UserRecord): void {
    this.insertUser.run(...userParams(user))
  }

  get(id: string): UserRecord | null {
    const row = this.selectUser.get(id)
    return row === undefined ? null : userFromRow(row)
  }

  getByUsername(username: string): UserRecord | null {
    const row = this.selectUserByUsername.get(username)
    return row === undefined ? null : userFromRow(row)
  }

  list(): UserRecord[] {
    return this.selectUsers.all().map(userFromRow)
  }

  setPasswordHash(id: string, passwordHash: string): boolean {
    return this.updatePasswordHash.run(passwordHash, id).changes > 0
  }

  setProfile(id: string, profile: UserProfile): boolean {
    return this.updateProfile.run(...profileParams(profile), id).changes > 0
  }

  setAdmin(id: string, admin: boolean): boolean {
    return this.updateAdmin.run(admin ? 1 : 0, id).changes > 0
  }

  unlockLogins(id: string, at: number): boolean {
    return this.updateLoginsUnlockedAt.run(at, id).changes > 0
  }

  getLoginsUnlockedAt(username: string): number | null {
    return this.selectLoginsUnlockedAt.get(username) ?? null
  }
}

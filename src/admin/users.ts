/**
 * The people who sign in at the login page: the operations behind `latchkey user
 * create|update|list|delete|set-password|unlock` and the programmatic API. Passwords are only ever
 * stored hashed; mistakes throw `UsageError`. A user's profile holds the OpenID Connect standard
 * claims served by the userinfo endpoint (`src/profile.ts`).
 */
import { recordAudit, SERVER_ACTOR, type AuditContext } from '../audit/record.js'
import { randomUUID } from 'node:crypto'
import { UsageError } from '../errors.js'
import {
  isDisplayName,
  isEmail,
  MAX_EMAIL_LENGTH,
  MAX_NAME_LENGTH,
  NO_PROFILE,
} from '../profile.js'
import type { Store, UserProfile, UserRecord } from '../store/types.js'
import { longestAccessTokenLifetime } from '../tokens/key_management.js'
import { hashPassword, MAX_PASSWORD_LENGTH } from '../tokens/passwords.js'
import { isUsername, MIN_PASSWORD_LENGTH } from '../users.js'
import { endUserSessions } from '../tokens/session_revocation.js'

const now = (): number => Math.floor(Date.now() / 1000)

/** A user as printed and returned: never the password hash. Profile fields are `null` when unset. */
export interface UserJSON {
  id: string
  username: string
  email: string | null
  email_verified: boolean
  name: string | null
  given_name: string | null
  family_name: string | null
  /** The admin role: only an admin's login may be granted the scope `latchkey:admin`. */
  admin: boolean
  created_at: string
}

/** The user as printed: never the password hash. */
function userJSON(u: UserRecord): UserJSON {
  return {
    id: u.id,
    username: u.username,
    email: u.email,
    email_verified: u.emailVerified,
    name: u.name,
    given_name: u.givenName,
    family_name: u.familyName,
    admin: u.admin,
    created_at: new Date(u.createdAt * 1000).toISOString(),
  }
}

/**
 * Changes to a profile. Absent (`undefined`): unchanged; `null` or `''`: cleared. `emailVerified`
 * left out when the email changes makes the new address unverified.
 */
export interface ProfileChanges {
  email?: string | null
  emailVerified?: boolean
  name?: string | null
  givenName?: string | null
  familyName?: string | null
}

/** The profile fields `changes` sets, by name (for the audit log, which keeps no values). */
function changedFields(changes: ProfileChanges & { admin?: boolean }): string[] {
  const fields: (keyof ProfileChanges | 'admin')[] = [
    'email',
    'emailVerified',
    'name',
    'givenName',
    'familyName',
    'admin',
  ]
  return fields.filter((f) => changes[f] !== undefined)
}

/** A name field after a change: `undefined` keeps `current`, `null` or `''` clears it. */
function nameField(
  option: string,
  value: string | null | undefined,
  current: string | null,
): string | null {
  if (value === undefined) return current
  if (value === null || value === '') return null
  if (!isDisplayName(value)) {
    throw new UsageError(
      `${option} must be 1-${MAX_NAME_LENGTH} printable characters, without control characters or surrounding spaces`,
    )
  }
  return value
}

/** The profile after `changes`, validated. Throws `UsageError` naming the CLI option at fault. */
export function applyProfileChanges(current: UserProfile, changes: ProfileChanges): UserProfile {
  let email = current.email
  if (changes.email !== undefined) {
    const value = changes.email === '' ? null : changes.email
    if (value !== null && !isEmail(value)) {
      throw new UsageError(
        `--email must be an address like name@example.com, at most ${MAX_EMAIL_LENGTH} characters`,
      )
    }
    email = value
  }
  // A new address is not the one that was verified.
  const emailVerified = changes.emailVerified ?? (email === current.email && current.emailVerified)
  if (emailVerified && email === null) throw new UsageError('--email-verified needs an --email')
  return {
    email,
    emailVerified,
    name: nameField('--name', changes.name, current.name),
    givenName: nameField('--given-name', changes.givenName, current.givenName),
    familyName: nameField('--family-name', changes.familyName, current.familyName),
  }
}

/** Refuses a name that is not a username, with `UsageError`. */
export function checkUsername(name: string): string {
  if (!isUsername(name)) {
    throw new UsageError(
      '--username must be 1-64 printable ASCII characters, without spaces or control characters',
    )
  }
  return name
}

/** Refuses a password too short or too long, with `UsageError`. */
export function checkPassword(password: string): string {
  if (password === '') throw new UsageError('the password is empty')
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new UsageError(`the password must be at least ${MIN_PASSWORD_LENGTH} characters`)
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new UsageError(`the password must be at most ${MAX_PASSWORD_LENGTH} characters`)
  }
  return password
}

async function mustGetUser(store: Store, username: string): Promise<UserRecord> {
  const user = await store.getUserByUsername(checkUsername(username))
  if (!user) throw new UsageError(`no user named ${username}`)
  return user
}

/** A password, or how to get it once the name is known to be free (the CLI asks for it then). */
export type PasswordSource = string | (() => Promise<string>)

/** Adds a user. Throws `UsageError` for a bad name or password, or a name already taken. */
export async function createUser(
  store: Store,
  o: { username: string; password: PasswordSource; admin?: boolean } & ProfileChanges,
  by: AuditContext = { actor: SERVER_ACTOR },
): Promise<UserJSON> {
  const username = checkUsername(o.username)
  const profile = applyProfileChanges(NO_PROFILE, o)
  // Before asking for the password, so nobody types one for nothing.
  if (await store.getUserByUsername(username)) {
    throw new UsageError(`a user named ${username} already exists`)
  }
  const password = checkPassword(typeof o.password === 'string' ? o.password : await o.password())
  const user: UserRecord = {
    id: randomUUID(),
    username,
    passwordHash: await hashPassword(password),
    createdAt: now(),
    admin: o.admin ?? false,
    ...profile,
  }
  // A name taken meanwhile by another process is refused here with ConflictError.
  await store.createUser(user)
  await recordAudit(store, by, {
    kind: 'user.created',
    subject: user.id,
    details: { username: user.username },
  })
  return userJSON(user)
}

/**
 * Changes a user's profile (the fields of `changes` that are not `undefined`); the password,
 * sessions and tokens stay. Prints the user as it now is. Tokens already issued keep their claims;
 * the userinfo endpoint answers with the new profile at once.
 */
export async function updateUser(
  store: Store,
  o: { username: string; admin?: boolean } & ProfileChanges,
  by: AuditContext = { actor: SERVER_ACTOR },
): Promise<UserJSON> {
  const user = await mustGetUser(store, o.username)
  const profile = applyProfileChanges(user, o)
  if (!(await store.setUserProfile(user.id, profile))) {
    throw new UsageError(`no user named ${o.username}`)
  }
  // Taking the role away shuts the admin scope out at the user's next refresh and next login.
  const admin = o.admin ?? user.admin
  if (admin !== user.admin && !(await store.setUserAdmin(user.id, admin))) {
    throw new UsageError(`no user named ${o.username}`)
  }
  await recordAudit(store, by, {
    kind: 'user.updated',
    subject: user.id,
    // Which fields changed, not their values: a profile is personal data.
    details: { username: user.username, fields: changedFields(o) },
  })
  return userJSON({ ...user, ...profile, admin })
}

/** Every user. */
export async function listUsers(store: Store): Promise<UserJSON[]> {
  return (await store.listUsers()).map(userJSON)
}

/**
 * Deletes a user: their sessions (each ended with its own `sid` event), logins, codes and opaque
 * tokens go with them, and a `sub` revocation covers the JWTs they still hold until the longest of
 * them would have expired.
 */
export async function deleteUser(
  store: Store,
  username: string,
  by: AuditContext = { actor: SERVER_ACTOR },
): Promise<{ id: string; username: string; deleted: true }> {
  const user = await mustGetUser(store, username)
  const at = now()
  // Their live sessions first, one `sid` event each: each client with a back-channel logout URI is
  // told (OpenID Connect Back-Channel Logout 1.0 §2.7), which the one `sub` event would not do.
  await endUserSessions(store, user.id, at)
  const deleted = await store.deleteUser(user.id, {
    kind: 'sub',
    value: user.id,
    clientId: null,
    createdAt: at,
    expiresAt: at + (await longestAccessTokenLifetime(store)),
  })
  if (!deleted) throw new UsageError(`no user named ${username}`)
  await recordAudit(store, by, {
    kind: 'user.deleted',
    subject: user.id,
    details: { username: user.username },
  })
  return { id: user.id, username: user.username, deleted: true }
}

/**
 * Replaces a user's password and ends every session and browser login they have: whoever knew the old
 * password is signed out everywhere.
 */
export async function setPassword(
  store: Store,
  o: { username: string; password: PasswordSource },
  by: AuditContext = { actor: SERVER_ACTOR },
): Promise<UserJSON & { password_changed: true; sessions_revoked: number }> {
  const user = await mustGetUser(store, o.username)
  const password = checkPassword(typeof o.password === 'string' ? o.password : await o.password())
  if (!(await store.setPasswordHash(user.id, await hashPassword(password)))) {
    throw new UsageError(`no user named ${o.username}`)
  }
  const ended = await endUserSessions(store, user.id, now())
  await recordAudit(store, by, {
    kind: 'user.password_set',
    subject: user.id,
    details: { username: user.username, sessions_revoked: ended.length },
  })
  return { ...userJSON(user), password_changed: true, sessions_revoked: ended.length }
}

/**
 * Forgives the user's failed logins so far, on every server of the deployment: each reads the time
 * back from the store when the user is throttled (`server/login_throttle.ts`). Addresses throttled
 * for guessing many usernames stay throttled.
 */
export async function unlockUser(
  store: Store,
  username: string,
  by: AuditContext = { actor: SERVER_ACTOR },
): Promise<UserJSON & { unlocked_at: string }> {
  const user = await mustGetUser(store, username)
  const at = now()
  if (!(await store.unlockLogins(user.id, at))) throw new UsageError(`no user named ${username}`)
  await recordAudit(store, by, {
    kind: 'user.unlocked',
    subject: user.id,
    details: { username: user.username },
  })
  return { ...userJSON(user), unlocked_at: new Date(at * 1000).toISOString() }
}

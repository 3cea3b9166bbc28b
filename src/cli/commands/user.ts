/**
 * `latchkey user create|list|delete|set-password|unlock`: the people who sign in at the login page. Passwords
 * are read from standard input, never from the command line (where `ps` and shell history would see
 * them): typed without echo on a terminal, or one line from a pipe.
 */
import { randomUUID } from 'node:crypto'
import type { Store, UserRecord } from '../../store/types.js'
import { longestTokenLifetime } from '../../tokens/key_management.js'
import { hashPassword, MAX_PASSWORD_LENGTH } from '../../tokens/passwords.js'
import { isUsername, MIN_PASSWORD_LENGTH } from '../../users.js'
import { endUserSessions } from '../../tokens/session_revocation.js'
import { printJSON, UsageError } from '../output.js'
import { withStore } from '../store.js'

const now = (): number => Math.floor(Date.now() / 1000)

/** The user as printed: never the password hash. */
export function userJSON(u: UserRecord): Record<string, unknown> {
  return { id: u.id, username: u.username, created_at: new Date(u.createdAt * 1000).toISOString() }
}

function checkUsername(name: string): string {
  if (!isUsername(name)) {
    throw new UsageError(
      '--username must be 1-64 printable ASCII characters, without spaces or control characters',
    )
  }
  return name
}

function checkPassword(password: string): string {
  if (password === '') throw new UsageError('the password is empty')
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new UsageError(`the password must be at least ${MIN_PASSWORD_LENGTH} characters`)
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new UsageError(`the password must be at most ${MAX_PASSWORD_LENGTH} characters`)
  }
  return password
}

/** Most bytes read from a pipe before giving up on finding the end of the line. */
const MAX_LINE_BYTES = 4 * MAX_PASSWORD_LENGTH + 2

/** One line from a pipe or file, without its line ending. */
async function readLine(input: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of input as AsyncIterable<Buffer>) {
    const newline = chunk.indexOf(0x0a)
    chunks.push(newline < 0 ? chunk : chunk.subarray(0, newline))
    size += chunk.length
    if (newline >= 0) break
    if (size > MAX_LINE_BYTES) throw new UsageError('the password line is too long')
  }
  input.destroy()
  const line = Buffer.concat(chunks).toString('utf8')
  return line.endsWith('\r') ? line.slice(0, -1) : line
}

/** Reads what is typed on the terminal without echoing it. Ctrl-C aborts, Enter ends. */
function readHidden(input: NodeJS.ReadStream, prompt: string): Promise<string> {
  process.stderr.write(prompt)
  return new Promise((resolve, reject) => {
    let typed = ''
    const finish = (err?: Error): void => {
      input.setRawMode(false)
      input.pause()
      input.off('data', onData)
      process.stderr.write('\n')
      if (err) reject(err)
      else resolve(typed)
    }
    const onData = (data: Buffer): void => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish()
        if (ch === '\u0003') return finish(new UsageError('cancelled'))
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('')
        else if (ch >= ' ') typed += ch
        if (typed.length > MAX_PASSWORD_LENGTH) {
          return finish(new UsageError('the password is too long'))
        }
      }
    }
    input.setRawMode(true)
    input.resume()
    input.on('data', onData)
  })
}

/** The new password: typed twice on a terminal, one line from a pipe. */
export async function readPassword(input: NodeJS.ReadStream = process.stdin): Promise<string> {
  if (!input.isTTY) return checkPassword(await readLine(input))
  const password = checkPassword(await readHidden(input, 'Password: '))
  if ((await readHidden(input, 'Repeat password: ')) !== password) {
    throw new UsageError('the passwords do not match')
  }
  return password
}

async function mustGetUser(store: Store, username: string): Promise<UserRecord> {
  const user = await store.getUserByUsername(checkUsername(username))
  if (!user) throw new UsageError(`no user named ${username}`)
  return user
}

export async function createUser(o: { db?: string; username: string }): Promise<void> {
  const username = checkUsername(o.username)
  await withStore(o.db, async (store) => {
    // Before asking for the password, so nobody types one for nothing.
    if (await store.getUserByUsername(username)) {
      throw new UsageError(`a user named ${username} already exists`)
    }
    const password = await readPassword()
    const user: UserRecord = {
      id: randomUUID(),
      username,
      passwordHash: await hashPassword(password),
      createdAt: now(),
    }
    // A name taken meanwhile by another process is refused here with ConflictError.
    await store.createUser(user)
    printJSON(userJSON(user))
  })
}

export async function listUsers(o: { db?: string }): Promise<void> {
  await withStore(o.db, async (store) => printJSON((await store.listUsers()).map(userJSON)))
}

/**
 * Deletes a user: their sessions, logins, codes and opaque tokens go with them, and a `sub`
 * revocation covers the JWTs they still hold until the longest of them would have expired.
 */
export async function deleteUser(o: { db?: string; username: string }): Promise<void> {
  await withStore(o.db, async (store) => {
    const user = await mustGetUser(store, o.username)
    const at = now()
    const deleted = await store.deleteUser(user.id, {
      kind: 'sub',
      value: user.id,
      clientId: null,
      createdAt: at,
      expiresAt: at + (await longestTokenLifetime(store)),
    })
    if (!deleted) throw new UsageError(`no user named ${o.username}`)
    printJSON({ id: user.id, username: user.username, deleted: true })
  })
}

/**
 * Replaces a user's password and ends every session and browser login they have: whoever knew the old
 * password is signed out everywhere.
 */
export async function setPassword(o: { db?: string; username: string }): Promise<void> {
  await withStore(o.db, async (store) => {
    const user = await mustGetUser(store, o.username)
    const password = await readPassword()
    if (!(await store.setPasswordHash(user.id, await hashPassword(password)))) {
      throw new UsageError(`no user named ${o.username}`)
    }
    const ended = await endUserSessions(store, user.id, Math.floor(Date.now() / 1000))
    printJSON({ ...userJSON(user), password_changed: true, sessions_revoked: ended.length })
  })
}

/**
 * Forgives the user's failed logins so far, on every server of the deployment: each reads the time
 * back from the store when the user is throttled (`server/login_throttle.ts`). Addresses throttled
 * for guessing many usernames stay throttled.
 */
export async function unlockUser(o: { db?: string; username: string }): Promise<void> {
  await withStore(o.db, async (store) => {
    const user = await mustGetUser(store, o.username)
    const at = now()
    if (!(await store.unlockLogins(user.id, at)))
      throw new UsageError(`no user named ${o.username}`)
    printJSON({ ...userJSON(user), unlocked_at: new Date(at * 1000).toISOString() })
  })
}

/**
 * `latchkey user create|update|list|delete|set-password|unlock`: the people who sign in at the login
 * page, and their profiles (`admin/users.ts`). Passwords are read from standard input, never from the command line (where `ps`
 * and shell history would see them): typed without echo on a terminal, or one line from a pipe.
 */
import * as users from '../../admin/users.js'
import { NO_PROFILE } from '../../profile.js'
import { MAX_PASSWORD_LENGTH } from '../../tokens/passwords.js'
import { printJSON, UsageError } from '../output.js'
import { cliActor, withStore } from '../store.js'

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
async function readPassword(input: NodeJS.ReadStream = process.stdin): Promise<string> {
  if (!input.isTTY) return users.checkPassword(await readLine(input))
  const password = users.checkPassword(await readHidden(input, 'Password: '))
  if ((await readHidden(input, 'Repeat password: ')) !== password) {
    throw new UsageError('the passwords do not match')
  }
  return password
}

/** The profile options of `user create` and `user update`, as commander gives them. */
interface ProfileOptions {
  email?: string
  emailVerified?: boolean
  name?: string
  givenName?: string
  familyName?: string
}

export interface CreateUserOptions extends ProfileOptions {
  db?: string
  username: string
  /** The admin role (`--admin`, `--no-admin`): may be granted the scope `latchkey:admin`. */
  admin?: boolean
}

export type UpdateUserOptions = CreateUserOptions

/** The changes the options ask for; an empty value clears its field. */
function profileChanges(o: ProfileOptions): users.ProfileChanges {
  return {
    email: o.email,
    emailVerified: o.emailVerified,
    name: o.name,
    givenName: o.givenName,
    familyName: o.familyName,
  }
}

export async function createUser(o: CreateUserOptions): Promise<void> {
  users.checkUsername(o.username)
  // Refuse a bad profile before asking for a password.
  const changes = profileChanges(o)
  users.applyProfileChanges(NO_PROFILE, changes)
  await withStore(o.db, async (store) =>
    printJSON(
      await users.createUser(
        store,
        {
          username: o.username,
          password: () => readPassword(),
          admin: o.admin,
          ...changes,
        },
        cliActor(),
      ),
    ),
  )
}

export async function updateUser(o: UpdateUserOptions): Promise<void> {
  await withStore(o.db, async (store) =>
    printJSON(
      await users.updateUser(
        store,
        { username: o.username, admin: o.admin, ...profileChanges(o) },
        cliActor(),
      ),
    ),
  )
}

export async function listUsers(o: { db?: string }): Promise<void> {
  await withStore(o.db, async (store) => printJSON(await users.listUsers(store)))
}

export async function deleteUser(o: { db?: string; username: string }): Promise<void> {
  await withStore(o.db, async (store) =>
    printJSON(await users.deleteUser(store, o.username, cliActor())),
  )
}

export async function setPassword(o: { db?: string; username: string }): Promise<void> {
  await withStore(o.db, async (store) =>
    printJSON(
      await users.setPassword(
        store,
        { username: o.username, password: () => readPassword() },
        cliActor(),
      ),
    ),
  )
}

export async function unlockUser(o: { db?: string; username: string }): Promise<void> {
  await withStore(o.db, async (store) =>
    printJSON(await users.unlockUser(store, o.username, cliActor())),
  )
}

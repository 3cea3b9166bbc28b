/**
 * User passwords: argon2id at OWASP's parameters (m = 19 MiB, t = 2, p = 1), from `@node-rs/argon2`.
 * About 15 ms per verification here, on libuv's thread pool. At most `MAX_CONCURRENT` hashes run at
 * once and at most `MAX_QUEUED` wait, so no caller can make the server hash without limit: past that,
 * `PasswordHasherBusy` is thrown and the login answers 503.
 *
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html
 */
import { Algorithm, hash, verify } from '@node-rs/argon2'

const OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 }

export const MAX_CONCURRENT = 2
export const MAX_QUEUED = 64
export const MAX_PASSWORD_LENGTH = 1024

export class PasswordHasherBusy extends Error {
  override readonly name = 'PasswordHasherBusy'
}

let running = 0
const waiting: (() => void)[] = []

async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) {
    if (waiting.length >= MAX_QUEUED)
      throw new PasswordHasherBusy('too many password checks at once')
    await new Promise<void>((resolve) => waiting.push(resolve))
  } else {
    running++
  }
  try {
    return await work()
  } finally {
    const next = waiting.shift()
    if (next) next()
    else running--
  }
}

/** The argon2id hash of `password` in PHC string form. */
export function hashPassword(password: string): Promise<string> {
  return limited(() => hash(password.normalize('NFC'), OPTIONS))
}

let decoy: Promise<string> | undefined

/**
 * Whether `password` matches `encoded`; pass `null` for an unknown user, which costs the same and never
 * matches. A malformed hash never matches. Over-long passwords are refused without hashing.
 */
export async function verifyPassword(password: string, encoded: string | null): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false
  decoy ??= hashPassword('decoy password that matches nothing')
  const target = encoded ?? (await decoy)
  const ok = await limited(async () => {
    try {
      return await verify(target, password.normalize('NFC'))
    } catch {
      return false
    }
  })
  return ok && encoded !== null
}

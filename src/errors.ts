/**
 * The server's error classes. Protocol errors are `OAuthError`, defined in the verifier package (the
 * SDK rejects with the same class) and re-exported here.
 */
import { OAuthError } from '@latchkey/verifier'

export { OAuthError, type OAuthErrorCode, type OAuthErrorOptions } from '@latchkey/verifier'

/**
 * `invalid_target` (RFC 8707 §2, RFC 8693 §2.2.2): the resource or audience asked for is not one the
 * server will issue a token for (400).
 */
export function invalidTarget(description: string): OAuthError {
  return new OAuthError('invalid_target', description)
}

/**
 * A mistake in what was asked of an operation (`client create` with a malformed id, a user that does
 * not exist): reported as is, by the CLI as its one line on stderr. The message names the CLI flag.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** A mistake in configuration or in a command's arguments: reported once, never as an OAuth response. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

/**
 * The database named does not exist and the caller asked not to create it (`create: false`): almost
 * always a typo or the wrong folder. `location` is what may be shown (a path, never a password).
 */
export class MissingDatabaseError extends Error {
  override readonly name = 'MissingDatabaseError'
  constructor(readonly location: string) {
    super(`no database at ${location}`)
  }
}

/** The store could not be reached or failed: the server answers 503 and fails closed. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError'
}

/** A uniqueness rule of the store was broken (duplicate client id, …). */
export class ConflictError extends Error {
  override readonly name = 'ConflictError'
}

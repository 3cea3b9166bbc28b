/**
 * What a client authentication method is to the server (RFC 6749 §2.3, RFC 7591 §2
 * `token_endpoint_auth_method`): how to recognise its credentials in a request, and how to check them
 * against the registered client. Each method is one module registering one `ClientAuthStrategy`
 * (`./index.ts` holds the list); what every method shares (exactly one method per request, the method
 * the client registered, throttling, the same cost for unknown clients) is done once in `./index.ts`.
 */
import type { FastifyRequest } from 'fastify'
import { OAuthError } from '../../errors.js'
import type { ClientAuthMethod, ClientRecord } from '../../store/types.js'
import type { ServerContext } from '../context.js'
import type { FormParams } from '../form.js'

export type { ClientAuthMethod }

/** Credentials of one method found in a request, not yet checked. */
export interface Presented {
  method: ClientAuthMethod
  clientId: string
  /** The secret, the assertion, …; `null` for `none`. */
  credential: string | null
}

/**
 * How a presented credential is checked. `known`: the answer costs nothing new (a secret verified
 * before). `run`: new work (a password hash, a signature and a replay check), started only once the
 * throttle has let it through and counted it in advance.
 */
export type CredentialCheck =
  { readonly known: Promise<boolean> } | { readonly run: () => Promise<boolean> }

/** A credential a keep-alive connection proved before: checked again only against the client record. */
export interface Recalled {
  clientId: string
  /** Whether the client record still matches what was proved (same secret, not deleted). */
  stillValid(client: ClientRecord): boolean
}

export interface ClientAuthStrategy {
  readonly method: ClientAuthMethod
  /**
   * Whether it proves anything: `false` only for `none`, which endpoints that require authentication
   * (introspection, RFC 7662 §2.1; the revocation feed) refuse.
   */
  readonly proves: boolean
  /** The longest credential worth checking; a longer one fails at once (it bounds the work). */
  readonly maxCredential: number
  /**
   * The credentials of this method in the request, `undefined` when the request does not use it.
   * Throws `invalid_request` for a malformed use of it. Must not look at other methods' parameters.
   */
  read(authorization: string | undefined, params: FormParams): Presented | undefined
  /**
   * Checks `presented` for `client`, or when `client` is `null` (unknown, or registered for another
   * method) does work of the same cost and answers `false`, so that the answer's timing says nothing.
   */
  check(
    presented: Presented,
    client: ClientRecord | null,
    ctx: ServerContext,
    request: FastifyRequest,
  ): CredentialCheck
  /** Optional: what this connection proved before, with the same credentials (see `client_secret.ts`). */
  recall?(request: FastifyRequest, params: FormParams): Recalled | undefined
  /** Optional: remembers a success for this connection. */
  remember?(request: FastifyRequest, presented: Presented, client: ClientRecord): void
  /** Optional: forgets what `recall` returned, which no longer holds. */
  forget?(request: FastifyRequest): void
}

/** RFC 6749 §5.2: a malformed request. */
export function malformed(description: string): OAuthError {
  return new OAuthError('invalid_request', description)
}

/**
 * What a grant type is to the token endpoint (RFC 6749 §4, §4.5 for extension grants): one module per
 * grant exports one `Grant`, listed in `./index.ts`. The token endpoint authenticates the client,
 * checks the client was given the grant and may use it, and hands over; the CLI reads the same
 * descriptor to validate `client create --grant`.
 */
import type { DPoPProof } from '@latchkey/verifier/dpop'
import type { ClientAuthMethod } from '../client_auth/index.js'
import type { ClientRecord } from '../../store/types.js'
import type { ServerContext } from '../context.js'
import type { FormParams } from '../form.js'

/** RFC 6749 §5.1 (RFC 8693 §2.2.1 adds `issued_token_type`). */
export interface TokenResponse {
  access_token: string
  /** `DPoP` for an access token bound to the key of the request's proof (RFC 9449 §5). */
  token_type: 'Bearer' | 'DPoP' | 'N_A'
  expires_in?: number
  scope?: string
  refresh_token?: string
  issued_token_type?: string
  /** OpenID Connect Core §3.1.3.3. */
  id_token?: string
}

/** A token request, once the client is authenticated and allowed the grant. */
export interface GrantRequest {
  params: FormParams
  client: ClientRecord
  /** How the client authenticated (`none` for a public client). */
  method: ClientAuthMethod
  /** The request's DPoP proof, checked (RFC 9449 §5); `null` for a bearer request. */
  dpop: DPoPProof | null
  /** The remote address of the request (for the audit log). */
  address: string
}

export interface Grant {
  /** The `grant_type` value: a name of RFC 6749 or an absolute URI (extension grants, §4.5). */
  readonly type: string
  /**
   * Only for clients that authenticate (RFC 6749 §4.4: client_credentials); a public client is refused
   * at the token endpoint and cannot be registered with it.
   */
  readonly confidentialOnly: boolean
  /** Needs at least one registered redirect URI (the CLI refuses a client without one). */
  readonly needsRedirectUri: boolean
  /** Issues the tokens, or throws an `OAuthError` (RFC 6749 §5.2). */
  handle(request: GrantRequest, ctx: ServerContext): Promise<TokenResponse>
}

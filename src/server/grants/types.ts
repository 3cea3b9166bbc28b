import type { ClientRecord } from '../../store/types.js'
import type { ServerContext } from '../context.js'
import type { FormParams } from '../form.js'

/** RFC 6749 §5.1. */
export interface TokenResponse {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
  scope?: string
  refresh_token?: string
}

/** A grant handler: called after the client is authenticated and allowed this grant type. */
export type GrantHandler = (
  params: FormParams,
  client: ClientRecord,
  ctx: ServerContext,
) => Promise<TokenResponse>

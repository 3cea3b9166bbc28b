/**
 * Resource indicators (RFC 8707 §2) at the token endpoint: `resource=URI` names the API the access
 * token is for, and becomes its `aud`. A client's `--audience` list is what it may ask for (the first
 * is the default); anything else is `invalid_target`. One resource per request: a token has one `aud`
 * here, and the form parser answers a repeated `resource` with `invalid_target` (RFC 8707 §2.2 lets
 * the server refuse what it cannot issue).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8707#section-2
 */
import { invalidTarget } from '../../errors.js'
import type { ClientRecord } from '../../store/types.js'
import type { FormParams } from '../form.js'

/**
 * The `resource` parameter when present: an absolute URI without a fragment (RFC 8707 §2), else
 * `invalid_target`. `undefined` when absent.
 */
export function resourceIndicator(params: FormParams): string | undefined {
  const resource = params.resource
  if (resource === undefined) return undefined
  if (resource.includes('#') || !URL.canParse(resource)) {
    throw invalidTarget('resource must be an absolute URI without a fragment')
  }
  return resource
}

/**
 * The `aud` the token asked for with `resource`, when it is one of the client's audiences (or, for a
 * client without any, the server's default audience); `undefined` when no resource was asked for (the
 * client's default then applies). Throws `invalid_target` for anything else.
 */
export function requestedAudience(
  params: FormParams,
  client: ClientRecord,
  defaultAudience: string,
): string | undefined {
  const resource = resourceIndicator(params)
  if (resource === undefined) return undefined
  const allowed = client.audiences.length > 0 ? client.audiences : [defaultAudience]
  if (!allowed.includes(resource)) {
    throw invalidTarget('this client may not have tokens for that resource')
  }
  return resource
}

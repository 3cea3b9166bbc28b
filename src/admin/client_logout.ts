/**
 * Checks for a client's logout options: where the browser may return after logout
 * (`--post-logout-redirect-uri`, OpenID Connect RP-Initiated Logout 1.0 §3.1: exact URIs, the rules
 * of redirect URIs) and where its logout tokens are POSTed (`--backchannel-logout-uri`, OpenID
 * Connect Back-Channel Logout 1.0 §2.2). Mistakes throw `UsageError`.
 */
import { UsageError } from '../errors.js'
import type { ClientRecord } from '../store/types.js'
import { checkRedirectUri } from './clients.js'

const MAX_URI_LENGTH = 2000
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]']

/**
 * Checks `--backchannel-logout-uri`: an absolute https URL, or http on a loopback address; no
 * fragment (Back-Channel Logout 1.0 §2.2), no credentials. The server POSTs to it from the inside of
 * its network: only an operator (who can run the CLI) registers one.
 */
export function checkBackchannelLogoutUri(value: string | undefined): string | null {
  if (value === undefined) return null
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new UsageError(`--backchannel-logout-uri ${JSON.stringify(value)} is not an absolute URL`)
  }
  const loopbackHttp = url.protocol === 'http:' && LOOPBACK_HOSTS.includes(url.hostname)
  if (url.protocol !== 'https:' && !loopbackHttp) {
    throw new UsageError(
      '--backchannel-logout-uri must be https (http is allowed only for loopback)',
    )
  }
  if (url.hash || value.includes('#')) {
    throw new UsageError('--backchannel-logout-uri must not have a fragment')
  }
  if (url.username || url.password) {
    throw new UsageError('--backchannel-logout-uri must not carry credentials')
  }
  if (value.length > MAX_URI_LENGTH) {
    throw new UsageError(`--backchannel-logout-uri must be at most ${MAX_URI_LENGTH} characters`)
  }
  return value
}

/** The logout fields of a client from `client create`'s options. */
export function checkLogoutUris(o: {
  postLogoutRedirectUri?: string[]
  backchannelLogoutUri?: string
}): Pick<ClientRecord, 'postLogoutRedirectUris' | 'backchannelLogoutUri'> {
  const uris = (o.postLogoutRedirectUri ?? []).map((u) =>
    checkRedirectUri(u, '--post-logout-redirect-uri'),
  )
  return {
    postLogoutRedirectUris: [...new Set(uris)],
    backchannelLogoutUri: checkBackchannelLogoutUri(o.backchannelLogoutUri),
  }
}

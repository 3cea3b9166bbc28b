/**
 * Checks for what a client shows to browsers: the origins its browser code calls the server from
 * (`--allowed-origin`, CORS), and the name and logo the login page shows (`--display-name`,
 * `--logo-uri`; RFC 7591 §2 `client_name`, `logo_uri`). Mistakes throw `UsageError`.
 */
import { UsageError } from '../errors.js'

export const MAX_DISPLAY_NAME_LENGTH = 100
const MAX_URI_LENGTH = 2000
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]']

/** Whether a URL may be served over http: loopback only (RFC 8252 §7.3). */
function secureEnough(url: URL): boolean {
  return (
    url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.includes(url.hostname))
  )
}

/**
 * Checks one `--allowed-origin`: a web origin `scheme://host[:port]` (RFC 6454 §6.2) exactly as
 * browsers send it in `Origin` — lower-case, no default port, no path, no trailing slash — https, or
 * http on loopback.
 */
export function checkAllowedOrigin(value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new UsageError(
      `--allowed-origin ${JSON.stringify(value)} is not an origin (scheme://host[:port])`,
    )
  }
  if (!secureEnough(url)) {
    throw new UsageError('--allowed-origin must be https (http is allowed only for loopback)')
  }
  if (url.origin !== value) {
    throw new UsageError(
      `--allowed-origin ${JSON.stringify(value)} must be written as a browser sends it: ${url.origin}`,
    )
  }
  return value
}

/** Checks `--display-name`: 1-100 printable characters (no control or format characters). */
export function checkDisplayName(value: string | undefined): string | null {
  if (value === undefined) return null
  if (value.trim() === '') throw new UsageError('--display-name is empty')
  if ([...value].length > MAX_DISPLAY_NAME_LENGTH) {
    throw new UsageError(`--display-name must be at most ${MAX_DISPLAY_NAME_LENGTH} characters`)
  }
  // \p{C}: control, format (bidi overrides among them), unassigned, private use, lone surrogates.
  if (/\p{C}/u.test(value)) throw new UsageError('--display-name must be printable characters')
  return value
}

/** Checks `--logo-uri`: an absolute https URL (http only for loopback), no credentials or fragment. */
export function checkLogoUri(value: string | undefined): string | null {
  if (value === undefined) return null
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new UsageError(`--logo-uri ${JSON.stringify(value)} is not an absolute URL`)
  }
  if (!secureEnough(url)) {
    throw new UsageError('--logo-uri must be https (http is allowed only for loopback)')
  }
  if (url.username || url.password) throw new UsageError('--logo-uri must not carry credentials')
  if (url.hash || value.includes('#')) throw new UsageError('--logo-uri must not have a fragment')
  if (value.length > MAX_URI_LENGTH) {
    throw new UsageError(`--logo-uri must be at most ${MAX_URI_LENGTH} characters`)
  }
  return value
}

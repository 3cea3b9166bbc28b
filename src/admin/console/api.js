// Calls to the admin API (`<issuer>/admin/v1`) with the session's access token as a Bearer token.
// An expired or revoked token is refreshed once; a refusal becomes an `ApiError` carrying the
// RFC 6749 `error` code, the status and the server's `error_description`.

import { accessToken, base, refresh } from './auth.js'

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

/**
 * `path` relative to `/admin/v1/` (`clients`, `users/alice/unlock`); `query` drops empty values.
 * @param {string} path
 * @param {Record<string, string | number | undefined>} [query]
 */
function adminUrl(path, query = {}) {
  const url = new URL(`admin/v1/${path}`, base)
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') url.searchParams.set(name, String(value))
  }
  return url
}

/** A path segment: an id or a name, whatever characters it has. @param {string} value */
export const segment = (value) => encodeURIComponent(value)

/**
 * @param {string} method
 * @param {string} path
 * @param {{ query?: Record<string, string | number | undefined>, body?: unknown }} [options]
 * @returns {Promise<any>}
 */
export async function api(method, path, options = {}) {
  /** @param {string | null} token */
  const send = (token) => {
    /** @type {Record<string, string>} */
    const headers = { accept: 'application/json' }
    if (token) headers.authorization = `Bearer ${token}`
    if (options.body !== undefined) headers['content-type'] = 'application/json'
    return fetch(adminUrl(path, options.query), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: 'no-store',
    })
  }
  let res = await send(await accessToken())
  if (res.status === 401) {
    const renewed = await refresh()
    if (renewed) res = await send(renewed.accessToken)
  }
  const json = await res.json().catch(() => null)
  if (!res.ok) {
    throw new ApiError(
      res.status,
      json?.error ?? 'server_error',
      json?.error_description ?? `the server answered ${res.status}`,
    )
  }
  return json
}

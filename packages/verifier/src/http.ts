/** Requests to the authorization server: JSON with a timeout, and client credentials as Basic. */

/** HTTP Basic credentials as RFC 6749 §2.3.1 encodes them (form-urlencoded, then base64). */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const enc = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+')
  return 'Basic ' + Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')
}

/**
 * An answer the verifier could not use; the message names the URL's path, never credentials.
 * `definitive`: a configuration mistake (credentials refused, another issuer, no metadata at the URL)
 * that retrying will not cure, as opposed to a server that is down or slow.
 */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError'
  readonly definitive: boolean
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown; definitive?: boolean },
  ) {
    super(message, { cause: options?.cause })
    this.definitive = options?.definitive === true
  }
}

/** Whether `status` means the server refused this API's client credentials. */
export const isRefusal = (status: number): boolean => status === 401 || status === 403

/** Why a request failed, in a few words: a timeout, or the network error's code. */
export function failureReason(cause: unknown, timeoutMs: number): string {
  if (cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError')) {
    return `no answer within ${timeoutMs} ms`
  }
  // fetch wraps the socket's error: `TypeError: fetch failed` with `cause: { code: 'ECONNREFUSED' }`.
  const inner = cause instanceof Error ? cause.cause : undefined
  const code = (inner as { code?: unknown } | undefined)?.code
  if (typeof code === 'string') return code
  return cause instanceof Error ? cause.message : String(cause)
}

export interface JSONResponse {
  status: number
  headers: Headers
  body: unknown
}

/** Fetches `url` and parses a JSON body; rejects with `UpstreamError` on network failure or non-JSON. */
export async function fetchJSON(
  fetchFn: typeof fetch,
  url: string,
  init: RequestInit,
  timeoutMs: number,
  /** Aborts the request early (the verifier is closed). */
  signal?: AbortSignal,
): Promise<JSONResponse> {
  const what = `${init.method ?? 'GET'} ${new URL(url).pathname}`
  const timeout = AbortSignal.timeout(timeoutMs)
  let res: Response
  try {
    res = await fetchFn(url, {
      ...init,
      signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
    })
  } catch (cause) {
    throw new UpstreamError(`${what} failed: ${failureReason(cause, timeoutMs)}`, undefined, {
      cause,
    })
  }
  let text: string
  try {
    text = await res.text()
  } catch (cause) {
    throw new UpstreamError(`${what}: reading the answer failed`, res.status, { cause })
  }
  try {
    return { status: res.status, headers: res.headers, body: JSON.parse(text) as unknown }
  } catch (cause) {
    throw new UpstreamError(`${what} answered ${res.status} without JSON`, res.status, { cause })
  }
}

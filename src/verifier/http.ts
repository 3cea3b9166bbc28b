/** Requests to the authorization server: JSON with a timeout, and client credentials as Basic. */

/** HTTP Basic credentials as RFC 6749 §2.3.1 encodes them (form-urlencoded, then base64). */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const enc = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+')
  return 'Basic ' + Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')
}

/** An answer the verifier could not use; the message names the URL's path, never credentials. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError'
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
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
): Promise<JSONResponse> {
  const what = `${init.method ?? 'GET'} ${new URL(url).pathname}`
  let res: Response
  try {
    res = await fetchFn(url, { ...init, signal: AbortSignal.timeout(timeoutMs) })
  } catch (cause) {
    throw new UpstreamError(`${what} failed`, undefined, { cause })
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

/**
 * A browser driven with plain HTTP: a cookie jar, the login form read from the page, PKCE.
 */
import { createHash, randomBytes } from 'node:crypto'
import { request, type HttpResponse } from './server.js'

export interface Pkce {
  verifier: string
  challenge: string
}

export function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  '#39': "'",
  '#x27': "'",
}
const unescape = (s: string): string =>
  s.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, e: string) => ENTITIES[e] ?? '')

/** The `name` → `value` of every input of the page's first POST form. */
export function formFields(html: string): Record<string, string> {
  const form = /<form[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i.exec(html)
  if (!form) throw new Error('no <form method="post"> on the page')
  const fields: Record<string, string> = {}
  for (const tag of (form[1] ?? '').match(/<input[^>]*>/gi) ?? []) {
    const name = /\sname="([^"]*)"/i.exec(tag)?.[1]
    const value = /\svalue="([^"]*)"/i.exec(tag)?.[1] ?? ''
    if (name !== undefined) fields[unescape(name)] = unescape(value)
  }
  return fields
}

/** The `action` of the page's first POST form, as written (`/authorize`, `/auth/authorize`). */
export function formAction(html: string): string | undefined {
  const form = /<form[^>]*method="post"[^>]*>/i.exec(html)
  const action = form && /\saction="([^"]*)"/i.exec(form[0])?.[1]
  return action ? unescape(action) : undefined
}

/** A cookie jar for one origin. */
export class Browser {
  private readonly cookies = new Map<string, string>()

  constructor(
    private readonly origin: string,
    private readonly localAddress?: string,
  ) {}

  private remember(res: HttpResponse): void {
    const set = res.headers['set-cookie'] ?? []
    for (const line of set) {
      const [pair] = line.split(';')
      const eq = (pair ?? '').indexOf('=')
      if (eq > 0) this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim())
    }
  }

  private cookieHeader(): Record<string, string> {
    if (this.cookies.size === 0) return {}
    return { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') }
  }

  async get(pathAndQuery: string): Promise<HttpResponse> {
    const res = await request(this.origin + pathAndQuery, {
      headers: this.cookieHeader(),
      localAddress: this.localAddress,
    })
    this.remember(res)
    return res
  }

  async postForm(path: string, form: Record<string, string>): Promise<HttpResponse> {
    const res = await request(this.origin + path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...this.cookieHeader() },
      body: new URLSearchParams(form).toString(),
      localAddress: this.localAddress,
    })
    this.remember(res)
    return res
  }
}

export interface AuthorizeParams {
  clientId: string
  redirectUri: string
  scope?: string
  state?: string
  challenge: string
  /** The authorization endpoint's path (default `/authorize`; under an issuer's path, `/auth/authorize`). */
  path?: string
  /** More request parameters (OpenID Connect `nonce`, `claims`, …). */
  extra?: Record<string, string>
}

export function authorizeQuery(p: AuthorizeParams): string {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: p.clientId,
    redirect_uri: p.redirectUri,
    code_challenge: p.challenge,
    code_challenge_method: 'S256',
    state: p.state ?? 'st',
  })
  if (p.scope !== undefined) q.set('scope', p.scope)
  for (const [name, value] of Object.entries(p.extra ?? {})) q.set(name, value)
  return `${p.path ?? '/authorize'}?${q.toString()}`
}

/**
 * Runs the authorization request as a browser would: GET /authorize, fill in the login form (when the
 * browser is not logged in yet) and post it where its `action` says, follow to the redirect. Returns
 * the redirect URL it lands on.
 */
export async function authorize(
  browser: Browser,
  params: AuthorizeParams,
  credentials: { username: string; password: string },
): Promise<URL> {
  let res = await browser.get(authorizeQuery(params))
  if (res.status === 200) {
    const fields = formFields(res.text)
    const action = formAction(res.text) ?? params.path ?? '/authorize'
    res = await browser.postForm(action, { ...fields, ...credentials })
  }
  const location = res.headers.location
  if (res.status !== 303 && res.status !== 302) {
    throw new Error(`expected a redirect, got ${res.status}: ${res.text.slice(0, 300)}`)
  }
  if (!location) throw new Error('redirect without Location')
  return new URL(location)
}

/**
 * The refresh grant case's sessions. A user logs in once through the login page, as a browser would
 * (cookie jar, form, PKCE S256), and that browser then approves `size` authorization requests, each
 * code exchanged for its own session (one refresh-token lineage each).
 *
 * Every refresh rotates the token, so no request body can be replayed: the pool hands each request the
 * current token of an idle session (`next()`) and takes the successor from the response
 * (`answered()`), first in, first out, so the load walks through every session in turn. No token is
 * ever presented twice, so the grace window for retries is never used and every measured request is a
 * real rotation (one conditional update plus one insert, and a signed JWT access token). A request in
 * flight when a run stops takes its session with it (its successor is never read); the pool is sized
 * for that, and an empty pool sends a token the server refuses, which fails the case.
 */
import { authorize, Browser, pkce } from '../test/helpers/browser.js'
import { basic, FORM, USER, WEB_CLIENT, WEB_REDIRECT } from './clients.js'
import { checkTokenResponse } from './checks.js'
import type { DynamicBody } from './load.js'

/** Codes fetched and exchanged at once while the pool fills. */
const PARALLEL_LOGINS = 8
const REFRESH_TOKEN = /"refresh_token":"([\w-]+)"/

export interface SessionPool extends DynamicBody {
  readonly size: number
  /** Sessions whose successor was never received (in flight at the end of a run, or refused). */
  readonly lost: number
  /** Requests sent when no session was idle (each one fails the case). */
  readonly starved: number
  /** One refresh outside the load: a verified JWT and a new refresh token, returned to the pool. */
  check(): Promise<void>
}

async function exchange(baseUrl: string, form: Record<string, string>) {
  const response = await fetch(`${baseUrl}/token`, {
    method: 'POST',
    headers: { authorization: basic(WEB_CLIENT), 'content-type': FORM },
    body: new URLSearchParams(form).toString(),
    signal: AbortSignal.timeout(10_000),
  })
  const text = await response.text()
  if (response.status !== 200) throw new Error(`POST /token answered ${response.status}: ${text}`)
  return JSON.parse(text) as Record<string, unknown>
}

/** One authorization request approved by `browser` and its code exchanged: a new session. */
async function newSession(baseUrl: string, browser: Browser): Promise<string> {
  const p = pkce()
  const landed = await authorize(
    browser,
    { clientId: WEB_CLIENT, redirectUri: WEB_REDIRECT, challenge: p.challenge, scope: 'read' },
    USER,
  )
  const code = landed.searchParams.get('code')
  if (!code) throw new Error(`authorization: no code in ${landed.href}`)
  const json = await exchange(baseUrl, {
    grant_type: 'authorization_code',
    code,
    code_verifier: p.verifier,
    redirect_uri: WEB_REDIRECT,
  })
  await checkTokenResponse(baseUrl, json, 'jwt')
  if (typeof json.refresh_token !== 'string') throw new Error('code exchange: no refresh_token')
  return json.refresh_token
}

/** Logs `size` sessions in (one password check, then `size` codes) and pools their refresh tokens. */
export async function createSessionPool(baseUrl: string, size: number): Promise<SessionPool> {
  const browser = new Browser(baseUrl)
  const tokens: string[] = [await newSession(baseUrl, browser)]
  let made = 1
  const worker = async (): Promise<void> => {
    while (made < size) {
      made++
      tokens.push(await newSession(baseUrl, browser))
    }
  }
  await Promise.all(Array.from({ length: PARALLEL_LOGINS }, worker))

  let head = 0
  let lost = 0
  let starved = 0
  let inFlight = 0
  const take = (): string | undefined => {
    if (head >= tokens.length) return undefined
    const token = tokens[head++]
    if (head > 4096 && head * 2 > tokens.length) {
      tokens.splice(0, head)
      head = 0
    }
    return token
  }
  return {
    size,
    get lost() {
      return lost
    },
    get starved() {
      return starved
    },
    next() {
      const token = take()
      if (token === undefined) {
        starved++
        return 'grant_type=refresh_token&refresh_token=the-pool-of-sessions-ran-dry'
      }
      inFlight++
      return `grant_type=refresh_token&refresh_token=${token}`
    },
    answered(status, body) {
      inFlight = Math.max(0, inFlight - 1)
      const successor = status === 200 ? REFRESH_TOKEN.exec(body)?.[1] : undefined
      if (successor === undefined) lost++
      else tokens.push(successor)
    },
    async check() {
      // Sessions in flight when a run stopped never answered: count them lost now.
      lost += inFlight
      inFlight = 0
      const token = take()
      if (token === undefined) throw new Error('refresh: the pool of sessions is empty')
      const json = await exchange(baseUrl, { grant_type: 'refresh_token', refresh_token: token })
      await checkTokenResponse(baseUrl, json, 'jwt')
      const successor = json.refresh_token
      if (typeof successor !== 'string' || successor === token) {
        throw new Error('refresh: the refresh token was not rotated')
      }
      tokens.push(successor)
    },
  }
}

/**
 * The consistency gap, measured as the issue defines it: a resource server in another process keeps
 * being presented a JWT; its session is revoked at the authorization server; the gap is the time from
 * the revoke's response to the first refusal. Shared by the test and `bench/consistency_gap.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { Agent, request as httpRequest } from 'node:http'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { authorize, Browser, pkce } from './browser.js'
import type { TestServer } from './server.js'

const RESOURCE_SERVER = resolve(fileURLToPath(import.meta.url), '../resource_server.js')

export interface ResourceServer {
  url: string
  process: ChildProcess
  output(): string
  stop(): Promise<void>
}

export interface ResourceServerSettings {
  issuer: string
  audience: string
  clientId: string
  clientSecret: string
  maxStaleness?: number
  feed?: 'sse' | 'poll'
}

/** Spawns `resource_server.js` and resolves once it has caught up with the feed and listens. */
export function startResourceServer(s: ResourceServerSettings): Promise<ResourceServer> {
  const child = spawn(process.execPath, [RESOURCE_SERVER], {
    env: {
      ...process.env,
      ISSUER: s.issuer,
      AUDIENCE: s.audience,
      CLIENT_ID: s.clientId,
      CLIENT_SECRET: s.clientSecret,
      MAX_STALENESS: String(s.maxStaleness ?? 30),
      FEED: s.feed ?? 'sse',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stderr.on('data', (c: Buffer) => (output += c.toString()))
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`resource server did not start: ${output}`))
    }, 20_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`resource server exited with ${code}: ${output}`))
    })
    let line = ''
    child.stdout.on('data', (c: Buffer) => {
      line += c.toString()
      if (!line.includes('\n')) return
      clearTimeout(timer)
      const { port } = JSON.parse(line) as { port: number }
      const exited = new Promise<void>((r) => child.once('exit', () => r()))
      resolvePromise({
        url: `http://127.0.0.1:${port}`,
        process: child,
        output: () => output,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM')
            await exited
          }
        },
      })
    })
  })
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 })

/** Presents `token` to the resource server once; resolves with the status. */
export function present(url: string, token: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest(
      `${url}/check`,
      { agent, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        res.resume()
        res.on('end', () => resolvePromise(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/**
 * Presents `token` back to back while `revoke()` runs; returns the milliseconds from `revoke()`
 * resolving to the first 401 (0 when the refusal came first). Rejects on any status other than 200
 * and 401, and when no refusal comes within `timeoutMs`.
 */
export async function measureGap(
  url: string,
  token: string,
  revoke: () => Promise<void>,
  timeoutMs = 10_000,
  /** Pause between presentations: 0 measures best; a test sharing the machine passes 1. */
  pauseMs = 0,
): Promise<number> {
  const first = await present(url, token)
  if (first !== 200) throw new Error(`the token was not accepted before the revocation (${first})`)
  let refusedAt: number | undefined
  let stop = false
  const loop = (async () => {
    const deadline = performance.now() + timeoutMs
    while (!stop) {
      const status = await present(url, token)
      if (status === 401) {
        refusedAt = performance.now()
        return
      }
      if (status !== 200) throw new Error(`the resource server answered ${status}`)
      if (performance.now() > deadline) throw new Error('no refusal within the time limit')
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs))
    }
  })()
  let revokedAt: number
  try {
    await revoke()
    revokedAt = performance.now()
  } catch (err) {
    stop = true
    await loop.catch(() => {})
    throw err
  }
  await loop
  return Math.max(0, refusedAt! - revokedAt)
}

export interface SessionTokens {
  access_token: string
  refresh_token: string
}

/** Logs `user` in at `client` through the login page and exchanges the code: one new session. */
export async function newSession(
  server: TestServer,
  client: { client_id: string; client_secret: string },
  redirectUri: string,
  user: { username: string; password: string },
  browser = new Browser(server.url),
): Promise<SessionTokens> {
  const p = pkce()
  const landed = await authorize(
    browser,
    { clientId: client.client_id, redirectUri, challenge: p.challenge },
    user,
  )
  const code = landed.searchParams.get('code')
  if (!code) throw new Error(`no code in ${landed.href}`)
  const res = await server.post(
    '/token',
    {
      grant_type: 'authorization_code',
      code,
      code_verifier: p.verifier,
      redirect_uri: redirectUri,
    },
    [client.client_id, client.client_secret],
  )
  if (res.status !== 200) throw new Error(`code exchange failed: ${res.text}`)
  return res.json as unknown as SessionTokens
}

/** p50, p99, max of a list of milliseconds. */
export function percentiles(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN }
}

/**
 * Test harness: the real `latchkey` bin, a real server process on a free loopback port, real HTTP.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The compiled CLI entry point, as `npx latchkey` runs it. */
export const BIN = resolve(fileURLToPath(import.meta.url), '../../../src/cli/main.js')

export interface CliResult {
  status: number
  stdout: string
  stderr: string
  /** `stdout` parsed as JSON, when it is. */
  json: unknown
}

/** Runs `latchkey ARGS…` to completion. */
export function cli(
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): CliResult {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    input: options.input ?? '',
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    encoding: 'utf8',
    timeout: 30_000,
  })
  let json: unknown
  try {
    json = JSON.parse(result.stdout)
  } catch {
    json = undefined
  }
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr, json }
}

/** A fresh folder, removed by `cleanup`. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-test-'))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  text: string
  /** The body parsed as a JSON object (empty when it is not one). */
  json: Record<string, unknown>
}

export interface RequestOptions {
  method?: string
  headers?: Record<string, string>
  body?: string | Buffer
  /** Source address, to act as another client machine (any 127.x.y.z works on Linux). */
  localAddress?: string
}

/** One HTTP request; resolves with the whole response. */
export function request(url: string, options: RequestOptions = {}): Promise<HttpResponse> {
  return new Promise((resolveResponse, reject) => {
    const req = httpRequest(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        localAddress: options.localAddress,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let json: Record<string, unknown> = {}
          try {
            const parsed: unknown = JSON.parse(text)
            if (typeof parsed === 'object' && parsed !== null)
              json = parsed as Record<string, unknown>
          } catch {
            // not JSON: `text` has it
          }
          resolveResponse({ status: res.statusCode ?? 0, headers: res.headers, text, json })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    if (options.body !== undefined) req.write(options.body)
    req.end()
  })
}

/** HTTP Basic credentials as RFC 6749 §2.3.1 encodes them. */
export function basic(clientId: string, secret: string): string {
  const enc = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+')
  return 'Basic ' + Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')
}

export interface TestServer {
  url: string
  port: number
  db: string
  dir: string
  process: ChildProcess
  /** Everything the server wrote to stdout (its JSON log lines) and stderr. */
  output(): string
  /** POSTs a form, with Basic credentials when given. */
  post(
    path: string,
    form: Record<string, string>,
    auth?: [string, string],
    localAddress?: string,
  ): Promise<HttpResponse>
  get(path: string): Promise<HttpResponse>
  /** Sends SIGTERM and waits for the exit code. */
  stop(): Promise<number | null>
  /** Stops it (if running) and removes its folder. */
  dispose(): Promise<void>
}

export interface StartOptions {
  /** Re-use this folder and database (for restart tests). */
  dir?: string
  env?: NodeJS.ProcessEnv
  args?: string[]
  /** Listen on this port (a restart keeps its issuer URL, which includes the port). */
  port?: number
  /** Use this database (`postgres://…`) instead of a SQLite file in `dir`. */
  db?: string
}

/** Starts `latchkey serve` on a free port with its own SQLite database and waits for /healthz. */
export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const dir = options.dir ?? tempDir().dir
  const db = options.db ?? `sqlite:${join(dir, 'latchkey.db')}`
  const port = options.port ?? (await freePort())
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--port', String(port), '--db', db, ...(options.args ?? [])],
    {
      // One process unless a test asks for workers (`--workers` or LATCHKEY_WORKERS): fast on 2 cores.
      env: { ...process.env, LATCHKEY_LOG_LEVEL: 'info', LATCHKEY_WORKERS: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  child.stdout.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr.on('data', (c: Buffer) => (output += c.toString()))
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 15_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${output}`)
    try {
      const res = await request(`${url}/healthz`)
      if (res.status === 200) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`server did not become healthy: ${output}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  const server: TestServer = {
    url,
    port,
    db,
    dir,
    process: child,
    output: () => output,
    post(path, form, auth, localAddress) {
      const headers: Record<string, string> = {
        'content-type': 'application/x-www-form-urlencoded',
      }
      if (auth) headers.authorization = basic(auth[0], auth[1])
      return request(url + path, {
        method: 'POST',
        headers,
        body: new URLSearchParams(form).toString(),
        localAddress,
      })
    },
    get: (path) => request(url + path),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill('SIGTERM')
      return exited
    },
    async dispose() {
      await server.stop()
      if (!options.dir) rmSync(dir, { recursive: true, force: true })
    },
  }
  return server
}

export interface CreatedClient {
  client_id: string
  client_secret: string
  [key: string]: unknown
}

/**
 * Runs `latchkey init --db DB` (the database, its schema and first key; idempotent) and returns its
 * printed JSON. Throws when it fails.
 */
export function initDatabase(
  db: string,
  env?: NodeJS.ProcessEnv,
): { db: string; created: boolean; kid: string; alg: string; encrypted: boolean } {
  const result = cli(['init', '--db', db], { env })
  if (result.status !== 0) throw new Error(`init failed: ${result.stderr}`)
  return result.json as ReturnType<typeof initDatabase>
}

/**
 * Creates a SQLite database that does not exist yet with `latchkey init`, as an operator would before
 * a first `client create` (the other commands refuse a missing file). A PostgreSQL test database
 * exists already: commands migrate it.
 */
function ensureDatabase(db: string): void {
  if (db.startsWith('sqlite:') && !existsSync(db.slice('sqlite:'.length))) initDatabase(db)
}

/**
 * Registers a client through the CLI (running `latchkey init` first on a new SQLite path); returns its
 * printed JSON with the secret.
 */
export function createClient(db: string, id: string, ...args: string[]): CreatedClient {
  ensureDatabase(db)
  const result = cli(['client', 'create', '--db', db, '--id', id, ...args])
  if (result.status !== 0) throw new Error(`client create failed: ${result.stderr}`)
  return result.json as CreatedClient
}

/**
 * Registers the confidential client `web` (authorization code with PKCE, refresh tokens) with one
 * redirect URI through the CLI, as the session tests use it.
 */
export function createWebClient(db: string, redirectUri: string): CreatedClient {
  return createClient(
    db,
    'web',
    ...['--grant', 'authorization_code', '--grant', 'refresh_token', '--redirect-uri', redirectUri],
  )
}

/**
 * Creates a user through the CLI (running `latchkey init` first on a new SQLite path), the password on
 * standard input; returns its printed JSON.
 */
export function createUser(
  db: string,
  user: { username: string; password: string },
): { id: string; username: string } {
  ensureDatabase(db)
  const result = cli(['user', 'create', '--db', db, '--username', user.username], {
    input: user.password + '\n',
  })
  if (result.status !== 0) throw new Error(`user create failed: ${result.stderr}`)
  return result.json as { id: string; username: string }
}

/** Sleeps. Used only where a test proves a real-time bound. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

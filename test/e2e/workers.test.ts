/**
 * `latchkey serve --workers N` (node:cluster) against real server processes: the default of one
 * worker per core, the same start-up lines as one process, connections spread over the workers, a
 * revocation on one worker honoured by another within milliseconds (measured, with polling slowed
 * down so that only the IPC wake-up can explain it), the client-authentication throttle counting
 * every worker's failures, a DPoP proof accepted by one worker refused by the other, `/metrics`
 * aggregated over the cluster, SIGTERM with requests in flight (they finish, exit 0), a killed
 * worker replaced, and a port in use reported as one line. On SQLite, PostgreSQL, and PostgreSQL
 * with Redis. Each answer names its worker (`x-latchkey-worker`, a test-only header).
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { availableParallelism } from 'node:os'
import { after, before, describe, it } from 'node:test'
import * as jose from 'jose'
import { authorizeQuery, Browser, formAction, formFields, pkce } from '../helpers/browser.js'
import { deleteRedisKeys, TEST_REDIS_URL } from '../helpers/redis.js'
import {
  cli,
  createClient,
  createUser,
  createWebClient,
  freePort,
  request,
  sleep,
  startServer,
  tempDir,
  type CreatedClient,
  type HttpResponse,
  type StartOptions,
  type TestServer,
} from '../helpers/server.js'
import { createTestDatabase, type TestDatabase } from '../store/postgres_databases.js'

const REDIRECT = 'https://app.example/callback'
const USER = { username: 'alice', password: 'correct horse battery' }
/** Failed logins allowed per username and address in the cluster suites. */
const LOGIN_LIMIT = 3

/** The worker that gave an answer (each request opens a new connection). */
const workerOf = (res: HttpResponse): string => String(res.headers['x-latchkey-worker'])

/** Waits for the start-up lines, which the primary prints once every worker listens. */
async function started(server: TestServer): Promise<TestServer> {
  const deadline = Date.now() + 15_000
  while (!server.output().includes('latchkey: next, create a client')) {
    assert.ok(Date.now() < deadline, server.output())
    await sleep(20)
  }
  return server
}

/** A server of `workers` workers whose answers name their worker, once every worker listens. */
async function startWorkers(workers: number, options: StartOptions = {}): Promise<TestServer> {
  return started(
    await startServer({
      ...options,
      env: { LATCHKEY_TEST_WORKER_HEADER: '1', ...options.env, LATCHKEY_WORKERS: String(workers) },
    }),
  )
}

/** The process ids of the server's workers (its child processes). */
function workerPids(server: TestServer): number[] {
  try {
    const out = execFileSync('pgrep', ['-P', String(server.process.pid)], { encoding: 'utf8' })
    return out.split('\n').filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/** Requests `path` on new connections until a worker other than `not` answers (round-robin). */
async function onAnotherWorker(
  send: () => Promise<HttpResponse>,
  not: string,
): Promise<HttpResponse> {
  for (let i = 0; i < 20; i++) {
    const res = await send()
    if (workerOf(res) !== not) return res
  }
  throw new Error(`every answer came from worker ${not}`)
}

/** The start-up lines on stderr (`latchkey: …`), with the port and folder made neutral. */
function startupLines(server: TestServer): string[] {
  return server
    .output()
    .split('\n')
    .filter((line) => line.startsWith('latchkey: '))
    .map((line) => line.replaceAll(String(server.port), 'PORT').replaceAll(server.dir, 'DIR'))
}

/** A DPoP key and a proof maker for it. */
async function dpopKey(): Promise<(htm: string, htu: string) => Promise<string>> {
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true })
  const jwk = await jose.exportJWK(publicKey)
  return (htm, htu) =>
    new jose.SignJWT({ jti: crypto.randomUUID(), htm, htu })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
      .setIssuedAt()
      .sign(privateKey)
}

/**
 * The checks every engine must pass with two workers: both take connections; an opaque token
 * revoked through one is refused by the other (measured); a DPoP proof is single-use across them.
 */
function clusterSuite(
  engine: string,
  setUp: () => Promise<{
    db?: string
    args?: string[]
    env?: NodeJS.ProcessEnv
    done(): Promise<void>
  }>,
): void {
  describe(`two workers on ${engine}`, () => {
    let server: TestServer
    let done: () => Promise<void> = () => Promise.resolve()
    let app: CreatedClient
    let api: CreatedClient

    before(async () => {
      const s = await setUp()
      done = () => s.done()
      // Polling ten times slower than by default: a wake-up within milliseconds is the IPC's.
      server = await startWorkers(2, {
        db: s.db,
        args: s.args,
        env: {
          LATCHKEY_FEED_POLL_MS: '1000',
          LATCHKEY_LOGIN_FAILURES_PER_USER_ADDRESS: String(LOGIN_LIMIT),
          ...s.env,
        },
      })
      app = createClient(
        server.db,
        'app',
        ...['--grant', 'client_credentials', '--access-token-format', 'opaque'],
      )
      api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
      createWebClient(server.db, REDIRECT)
      createUser(server.db, USER)
    })
    after(async () => {
      await server?.dispose()
      await done()
    })

    it('spreads new connections over both workers', async () => {
      const seen = new Set<string>()
      for (let i = 0; i < 8; i++) seen.add(workerOf(await server.get('/healthz')))
      assert.deepEqual([...seen].sort(), ['1', '2'])
    })

    it('honours a revocation made through one worker on the other within milliseconds', async () => {
      const delays: number[] = []
      for (let round = 0; round < 5; round++) {
        const issued = await server.post('/token', { grant_type: 'client_credentials' }, [
          app.client_id,
          app.client_secret,
        ])
        assert.equal(issued.status, 200, issued.text)
        const token = String(issued.json.access_token)
        const introspect = (): Promise<HttpResponse> =>
          server.post('/introspect', { token }, [api.client_id, api.client_secret])
        // Both workers remember the token as active (their in-process caches hold it).
        const seen = new Set<string>()
        for (let i = 0; i < 6; i++) {
          const res = await introspect()
          assert.equal(res.json.active, true, res.text)
          seen.add(workerOf(res))
        }
        assert.equal(seen.size, 2)
        const revoked = await server.post('/revoke', { token }, [app.client_id, app.client_secret])
        assert.equal(revoked.status, 200)
        const revokedAt = performance.now()
        // The first answer from the other worker may come before its follower has read the
        // event; the delay is until that worker refuses the token.
        for (;;) {
          const res = await onAnotherWorker(introspect, workerOf(revoked))
          if (res.json.active === false) break
          assert.ok(performance.now() - revokedAt < 1000, 'refused by the other worker within 1 s')
        }
        delays.push(performance.now() - revokedAt)
      }
      delays.sort((a, b) => a - b)
      const median = delays[Math.floor(delays.length / 2)]!
      // A poll would take up to 1000 ms; the wake-up over IPC takes a few.
      assert.ok(median < 250, `median delay ${median.toFixed(1)} ms`)
      console.log(
        `${engine}: revoke on worker A → refused by worker B: ${delays.map((d) => d.toFixed(1)).join(', ')} ms`,
      )
    })

    it('accepts on one worker the login form another worker served (its CSRF key is shared)', async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const browser = new Browser(server.url)
        const query = authorizeQuery({
          clientId: 'web',
          redirectUri: REDIRECT,
          challenge: pkce().challenge,
        })
        const page = await browser.get(query)
        assert.equal(page.status, 200, page.text)
        const posted = await browser.postForm(formAction(page.text) ?? '/authorize', {
          ...formFields(page.text),
          ...USER,
        })
        assert.equal(posted.status, 303, posted.text)
        assert.ok(String(posted.headers.location).startsWith(`${REDIRECT}?code=`))
        if (workerOf(posted) !== workerOf(page)) return
      }
      assert.fail('every login form was posted to the worker that served it')
    })

    it('counts failed logins on every worker toward one limit', async () => {
      const statuses: number[] = []
      const workers = new Set<string>()
      for (let i = 0; i < LOGIN_LIMIT + 2; i++) {
        // Round-robin alternates: one more request every other time moves the POST to the other.
        if (i % 2 === 1) await server.get('/healthz')
        const browser = new Browser(server.url, '127.0.0.5')
        const page = await browser.get(
          authorizeQuery({ clientId: 'web', redirectUri: REDIRECT, challenge: pkce().challenge }),
        )
        const posted = await browser.postForm(formAction(page.text) ?? '/authorize', {
          ...formFields(page.text),
          username: USER.username,
          password: `wrong guess ${i}`,
        })
        statuses.push(posted.status)
        workers.add(workerOf(posted))
      }
      assert.deepEqual([...workers].sort(), ['1', '2'])
      assert.deepEqual(statuses, [...Array<number>(LOGIN_LIMIT).fill(401), 429, 429])
    })

    it('refuses on one worker a DPoP proof the other accepted', async () => {
      const sign = await dpopKey()
      const htu = `${server.url}/token`
      const proof = await sign('POST', htu)
      const send = (): Promise<HttpResponse> =>
        request(htu, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: 'Basic ' + Buffer.from(`app:${app.client_secret}`).toString('base64'),
            dpop: proof,
          },
          body: 'grant_type=client_credentials',
        })
      const first = await send()
      assert.equal(first.status, 200, first.text)
      assert.equal(first.json.token_type, 'DPoP')
      const replay = await onAnotherWorker(send, workerOf(first))
      assert.equal(replay.status, 400, replay.text)
      assert.equal(replay.json.error, 'invalid_dpop_proof')
    })
  })
}

clusterSuite('SQLite', () => Promise.resolve({ done: () => Promise.resolve() }))

clusterSuite('PostgreSQL', async () => {
  const database: TestDatabase = await createTestDatabase()
  return { db: database.url, done: () => database.drop() }
})

clusterSuite('PostgreSQL with Redis', async () => {
  const database: TestDatabase = await createTestDatabase()
  const prefix = `latchkey-test-workers-${randomBytes(4).toString('hex')}:`
  return {
    db: database.url,
    args: ['--redis', TEST_REDIS_URL, '--redis-prefix', prefix],
    async done() {
      await database.drop()
      await deleteRedisKeys(prefix)
    },
  }
})

describe('serve --workers', () => {
  it('runs one worker per core by default, with the same start-up lines as one process', async () => {
    const one = await startServer()
    // Unset (the helper pins one worker): undefined drops it from the child's environment.
    const many = await started(
      await startServer({ env: { LATCHKEY_WORKERS: undefined as unknown as string } }),
    )
    try {
      assert.equal(workerPids(one).length, 0)
      assert.equal(workerPids(many).length, availableParallelism())
      assert.deepEqual(startupLines(many), startupLines(one))
      assert.equal(startupLines(one).length, 4) // with the web console's line
    } finally {
      await one.dispose()
      await many.dispose()
    }
  })

  it('gives each worker a thread pool of 2 unless UV_THREADPOOL_SIZE is set', async () => {
    const poolOf = (pid: number): string | undefined =>
      readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .find((v) => v.startsWith('UV_THREADPOOL_SIZE='))
    const { UV_THREADPOOL_SIZE: _, ...env } = process.env
    for (const [set, expected] of [
      [undefined, 'UV_THREADPOOL_SIZE=2'],
      ['3', 'UV_THREADPOOL_SIZE=3'],
    ] as const) {
      const server = await startWorkers(2, { env: { ...env, UV_THREADPOOL_SIZE: set } })
      try {
        const pids = workerPids(server)
        assert.equal(pids.length, 2)
        for (const pid of pids) assert.equal(poolOf(pid), expected)
        // The primary signs nothing and keeps the environment it was given.
        assert.equal(poolOf(server.process.pid!), set === undefined ? undefined : expected)
      } finally {
        await server.dispose()
      }
    }
  })

  it('counts client-authentication failures on every worker toward one limit', async () => {
    const server = await startWorkers(2, {
      env: {
        LATCHKEY_AUTH_FAILURES_PER_CLIENT: '3',
        LATCHKEY_AUTH_FAILURES_PER_ADDRESS: '100',
        LATCHKEY_AUTH_FAILURE_WINDOW: '60',
      },
    })
    try {
      const c = createClient(server.db, 'svc', '--grant', 'client_credentials')
      const workers = new Set<string>()
      const statuses: number[] = []
      for (let i = 0; i < 5; i++) {
        const res = await server.post(
          '/token',
          { grant_type: 'client_credentials' },
          [c.client_id, `wrong-secret-number-${i}`],
          '127.0.0.2',
        )
        workers.add(workerOf(res))
        statuses.push(res.status)
      }
      assert.deepEqual([...workers].sort(), ['1', '2'])
      // As with one process: three failures, then refused on both workers.
      assert.deepEqual(statuses, [401, 401, 401, 429, 429])
    } finally {
      await server.dispose()
    }
  })

  it('aggregates /metrics over the workers, on the main listener and on --metrics-port', async () => {
    const metricsPort = await freePort()
    const server = await startWorkers(2, { args: ['--metrics-port', String(metricsPort)] })
    try {
      const path = '/.well-known/oauth-authorization-server'
      const seen = new Set<string>()
      for (let i = 0; i < 10; i++) seen.add(workerOf(await server.get(path)))
      assert.deepEqual([...seen].sort(), ['1', '2'])
      const metrics = await request(`http://127.0.0.1:${metricsPort}/metrics`)
      assert.equal(metrics.status, 200)
      const line = metrics.text
        .split('\n')
        .find((l) => l.startsWith('latchkey_http_requests_total{') && l.includes(`route="${path}"`))
      assert.ok(line, metrics.text)
      assert.match(line, / 10$/)
      // Gauges of a process are summed (memory), or kept once (start time omitted, version first).
      assert.match(metrics.text, /^latchkey_process_resident_memory_bytes \d+/m)
      assert.match(metrics.text, /^latchkey_nodejs_version_info\{/m)
      assert.match(metrics.text, /^latchkey_workers 2$/m)
    } finally {
      await server.dispose()
    }
  })

  it('shares --metrics-port 0 between the workers', async () => {
    const server = await startWorkers(2, { args: ['--metrics-port', '0'] })
    try {
      const url = /latchkey: metrics at (\S+)/.exec(server.output())?.[1]
      assert.ok(url)
      const seen = new Set<string>()
      for (let i = 0; i < 6; i++) {
        const res = await request(url)
        assert.equal(res.status, 200)
        seen.add(workerOf(res))
      }
      assert.deepEqual([...seen].sort(), ['1', '2'], 'both workers listen on the one metrics port')
    } finally {
      await server.dispose()
    }
  })

  it('finishes requests in flight on SIGTERM, then every worker exits and so does the primary, with 0', async () => {
    const server = await startWorkers(2)
    try {
      const clients = [1, 2, 3, 4].map((i) =>
        createClient(server.db, `svc-${i}`, '--grant', 'client_credentials'),
      )
      const pids = workerPids(server)
      assert.equal(pids.length, 2)
      // Each checks a new secret (a slow hash): in flight when the signal comes.
      const inFlight = clients.map((c) =>
        server.post('/token', { grant_type: 'client_credentials' }, [c.client_id, c.client_secret]),
      )
      await sleep(100)
      const code = await server.stop()
      const answers = await Promise.all(inFlight)
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200, 200, 200],
      )
      assert.equal(code, 0, server.output())
      assert.match(server.output(), /latchkey: SIGTERM received, shutting down/)
      assert.deepEqual(workerPids(server), [])
    } finally {
      await server.dispose()
    }
  })

  it('replaces a worker that dies', async () => {
    const server = await startWorkers(2)
    try {
      const [victim] = workerPids(server)
      assert.ok(victim)
      process.kill(victim, 'SIGKILL')
      const deadline = Date.now() + 10_000
      for (;;) {
        const pids = workerPids(server)
        if (pids.length === 2 && !pids.includes(victim)) break
        assert.ok(Date.now() < deadline, 'a new worker within 10 s')
        await sleep(50)
      }
      for (;;) {
        const seen = new Set<string>()
        for (let i = 0; i < 6; i++) {
          const res = await server.get('/healthz').catch(() => undefined)
          if (res?.status === 200) seen.add(workerOf(res))
        }
        if (seen.size === 2) break
        assert.ok(Date.now() < deadline, 'both workers answer again')
        await sleep(50)
      }
      assert.match(server.output(), /worker exited unexpectedly; starting another/)
      const metrics = await server.get('/metrics')
      assert.match(metrics.text, /^latchkey_worker_restarts_total 1$/m)
      assert.match(metrics.text, /^latchkey_workers 2$/m)
    } finally {
      await server.dispose()
    }
  })

  it('reports a port in use as one line and exits non-zero', async () => {
    const holder: Server = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const address = holder.address()
    const port = typeof address === 'object' && address ? address.port : 0
    try {
      const { dir, cleanup } = tempDir()
      const result = cli([
        'serve',
        '--port',
        String(port),
        '--workers',
        '2',
        '--db',
        `sqlite:${dir}/x.db`,
      ])
      assert.notEqual(result.status, 0)
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr)
      assert.match(result.stderr, /EADDRINUSE|in use|another server/)
      cleanup()
    } finally {
      holder.close()
    }
  })
})

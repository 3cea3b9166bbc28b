/**
 * The verifier SDK says what is wrong, fast (issue 10, item 11): a refused credential, an issuer
 * mismatch, an issuer URL without metadata, an unreachable server or JWKS each make `ready()` and
 * `verify()` reject within 5 s with a message naming the cause, never `invalid_token` for the caller's
 * token; a refused credential is not retried in a tight loop; a short script exits on its own.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { createVerifier, VerifierConfigError, VerifierError } from '@latchkey/verifier'
import {
  createClient,
  freePort,
  sleep,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'

const VERIFIER_MODULE = resolve(fileURLToPath(import.meta.url), '../../../src/verifier/index.js')
/** The behaviour bound the issue states: a configuration error is known within 5 s. */
const BOUND_MS = 5000
const WRONG_SECRET = 'not-the-secret-of-this-api-at-all'

/** Awaits `promise`, which must reject with a `VerifierError` of `code`; returns it and the time. */
async function rejection(
  promise: Promise<unknown>,
  code = 'temporarily_unavailable',
): Promise<{ err: VerifierError; ms: number }> {
  const start = performance.now()
  try {
    await promise
  } catch (err) {
    const ms = performance.now() - start
    assert.ok(err instanceof VerifierError, `not a VerifierError: ${String(err)}`)
    assert.equal(err.code, code, err.message)
    return { err, ms }
  }
  assert.fail(`expected ${code}, but it resolved`)
}

/** A `fetch` that records the path of every request. */
function countingFetch(): { fetch: typeof fetch; paths: string[] } {
  const paths: string[] = []
  return {
    paths,
    fetch: (input, init) => {
      paths.push(new URL(input instanceof Request ? input.url : String(input)).pathname)
      return fetch(input, init)
    },
  }
}

/** A throwaway HTTP server answering every request with `handler`. */
async function fakeServer(
  handler: (path: string, origin: string) => { status: number; type: string; body: string },
): Promise<{ url: string; close: () => Promise<void> }> {
  let origin = ''
  const server: Server = createServer((req, res) => {
    const r = handler(new URL(req.url ?? '/', origin).pathname, origin)
    res.writeHead(r.status, { 'content-type': r.type }).end(r.body)
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url: origin,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections()
        server.close(() => ok())
      }),
  }
}

describe('verifier SDK configuration errors', () => {
  let server: TestServer
  let api: CreatedClient
  let app: CreatedClient
  let opaque: CreatedClient

  before(async () => {
    server = await startServer()
    api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
    app = createClient(server.db, 'app', '--grant', 'client_credentials')
    opaque = createClient(
      server.db,
      'op',
      '--grant',
      'client_credentials',
      '--access-token-format',
      'opaque',
    )
  })
  after(() => server.dispose())

  async function token(c: CreatedClient): Promise<string> {
    const res = await server.post('/token', { grant_type: 'client_credentials' }, [
      c.client_id,
      c.client_secret,
    ])
    assert.equal(res.status, 200, res.text)
    return res.json.access_token as string
  }

  it('rejects ready() and verify() within 5 s naming a refused credential, and backs off', async () => {
    const spy = countingFetch()
    const v = createVerifier({
      issuer: server.url,
      audience: server.url,
      clientId: api.client_id,
      clientSecret: WRONG_SECRET,
      fetch: spy.fetch,
    })
    try {
      const created = performance.now()
      const ready = await rejection(v.ready())
      assert.ok(ready.err instanceof VerifierConfigError, 'a configuration error')
      assert.equal(ready.err.message, "the revocation feed refused this API's credentials (401)")
      assert.ok(ready.ms < BOUND_MS, `ready() rejected after ${ready.ms} ms`)
      const verified = await rejection(v.verify(await token(app)))
      assert.ok(verified.err instanceof VerifierConfigError)
      assert.equal(verified.err.message, ready.err.message)
      assert.ok(verified.ms < BOUND_MS, `verify() rejected after ${verified.ms} ms`)
      // An opaque token meets the same error, not invalid_token.
      const op = await rejection(v.verify(await token(opaque)))
      assert.equal(op.err.message, ready.err.message)

      // Not a tight loop: over 4.5 s, a backoff from 1 s allows about 3 attempts (the old 100 ms
      // backoff capped at 2 s made 7 or more).
      await sleep(4500 - (performance.now() - created))
      const feedRequests = spy.paths.filter((p) => p === '/revocations').length
      assert.ok(feedRequests >= 1 && feedRequests <= 4, `${feedRequests} feed requests in 4.5 s`)
      console.log(`wrong secret: ${feedRequests} feed requests in 4.5 s`)
      // Its client+address window is never exhausted: the right secret still works from here.
      const res = await server.post('/token', { grant_type: 'client_credentials' }, [
        api.client_id,
        api.client_secret,
      ])
      assert.equal(res.status, 200, res.text)
    } finally {
      v.close()
    }
  })

  it('rejects an opaque token with the introspection refusal, and does not ask again at once', async () => {
    const spy = countingFetch()
    const v = createVerifier({
      issuer: server.url,
      audience: server.url,
      clientId: api.client_id,
      clientSecret: WRONG_SECRET,
      revocationFeed: false,
      fetch: spy.fetch,
    })
    try {
      const t = await token(opaque)
      const first = await rejection(v.verify(t))
      assert.ok(first.err instanceof VerifierConfigError)
      assert.equal(
        first.err.message,
        "the introspection endpoint refused this API's credentials (401)",
      )
      assert.ok(first.ms < BOUND_MS)
      for (let i = 0; i < 5; i++) {
        const again = await rejection(v.verify(t))
        assert.equal(again.err.message, first.err.message)
      }
      const asked = spy.paths.filter((p) => p === '/introspect').length
      assert.equal(asked, 1, 'one introspection request, then the refusal is remembered')
    } finally {
      v.close()
    }
  })

  it('rejects ready() and verify() within 5 s naming the issuer the metadata names', async () => {
    // The same server under another name: its metadata names 127.0.0.1.
    const issuer = `http://localhost:${server.port}`
    const v = createVerifier({ issuer, audience: server.url, revocationFeed: false })
    try {
      const ready = await rejection(v.ready())
      assert.ok(ready.err instanceof VerifierConfigError)
      assert.equal(ready.err.message, `metadata names issuer ${server.url}, expected ${issuer}`)
      assert.ok(ready.ms < BOUND_MS, `${ready.ms} ms`)
      const verified = await rejection(v.verify(await token(app)))
      assert.equal(verified.err.message, ready.err.message)
    } finally {
      v.close()
    }
  })

  it('rejects within 5 s naming the URL when the issuer serves no metadata (404, not JSON)', async () => {
    const html = await fakeServer(() => ({
      status: 200,
      type: 'text/html',
      body: '<html>a web site</html>',
    }))
    const cases = [
      {
        issuer: `${server.url}/no/such/path`,
        message: /no authorization server metadata at .* \(404\)/,
      },
      { issuer: html.url, message: /metadata at .* is not JSON \(200\)/ },
    ]
    try {
      for (const c of cases) {
        const v = createVerifier({ issuer: c.issuer, audience: 'api', revocationFeed: false })
        try {
          const ready = await rejection(v.ready())
          assert.ok(ready.err instanceof VerifierConfigError, c.issuer)
          assert.match(ready.err.message, c.message)
          assert.ok(ready.ms < BOUND_MS)
          const verified = await rejection(v.verify(await token(app)))
          assert.match(verified.err.message, c.message)
        } finally {
          v.close()
        }
      }
    } finally {
      await html.close()
    }
  })

  it('rejects verify() within 5 s naming the network error when the server cannot be reached', async () => {
    const issuer = `http://127.0.0.1:${await freePort()}`
    const v = createVerifier({ issuer, audience: 'api', revocationFeed: false })
    try {
      const verified = await rejection(v.verify(await token(app)))
      assert.ok(!(verified.err instanceof VerifierConfigError), 'may recover: not a config error')
      assert.match(verified.err.message, /cannot be reached .*ECONNREFUSED/)
      assert.ok(verified.ms < BOUND_MS)
      // ready() waits for its timeout, then says the same.
      const ready = await rejection(v.ready(300))
      assert.match(ready.err.message, /ECONNREFUSED/)
    } finally {
      v.close()
    }
  })

  it('answers temporarily_unavailable naming the JWKS, not invalid_token, while the keys cannot be fetched', async () => {
    const fake = await fakeServer((path, origin) =>
      path === '/.well-known/oauth-authorization-server'
        ? {
            status: 200,
            type: 'application/json',
            body: JSON.stringify({ issuer: origin, jwks_uri: `${origin}/jwks` }),
          }
        : { status: 500, type: 'application/json', body: '{}' },
    )
    const v = createVerifier({ issuer: fake.url, audience: 'api', revocationFeed: false })
    try {
      const t = await token(app)
      // Twice: the second within the JWKS cooldown, after the warm-up fetch failed.
      for (let i = 0; i < 2; i++) {
        const { err, ms } = await rejection(v.verify(t))
        assert.match(err.message, /signing keys cannot be fetched .*JWKS answered 500/)
        assert.ok(ms < BOUND_MS)
      }
    } finally {
      v.close()
      await fake.close()
    }
  })

  /** Runs `script` (an ES module) in a child process; resolves with its exit and output. */
  function runScript(
    script: string,
    limitMs: number,
  ): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
    const start = performance.now()
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    return new Promise((ok) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), limitMs)
      child.once('exit', (code) => {
        clearTimeout(timer)
        ok({ code, stdout, stderr, ms: performance.now() - start })
      })
    })
  }

  it('lets a short script that awaits verify() and closes exit on its own, refused or not', async () => {
    const t = await token(app)
    const script = (secret: string): string => `
import { createVerifier } from ${JSON.stringify(VERIFIER_MODULE)}
const v = createVerifier(${JSON.stringify({
      issuer: server.url,
      audience: server.url,
      clientId: api.client_id,
      clientSecret: secret,
    })})
try {
  const claims = await v.verify(${JSON.stringify(t)})
  console.log(JSON.stringify({ ok: true, sub: claims.sub }))
} catch (err) {
  console.log(JSON.stringify({ ok: false, code: err.code, message: err.message }))
}
v.close()
`
    const [refusedRun, goodRun] = await Promise.all([
      runScript(script(WRONG_SECRET), 20_000),
      runScript(script(api.client_secret), 20_000),
    ])
    assert.equal(refusedRun.code, 0, `exit ${refusedRun.code}: ${refusedRun.stderr}`)
    assert.deepEqual(JSON.parse(refusedRun.stdout), {
      ok: false,
      code: 'temporarily_unavailable',
      message: "the revocation feed refused this API's credentials (401)",
    })
    assert.ok(refusedRun.ms < 10_000, `exited after ${refusedRun.ms} ms`)
    assert.equal(goodRun.code, 0, `exit ${goodRun.code}: ${goodRun.stderr}`)
    assert.deepEqual(JSON.parse(goodRun.stdout), { ok: true, sub: 'app' })
    assert.ok(goodRun.ms < 10_000, `exited after ${goodRun.ms} ms`)
  })
})

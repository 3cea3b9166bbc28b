/**
 * The Verifier SDK in an Express API beside the alternatives a resource server would pick: Auth0's
 * `express-oauth2-jwt-bearer` and jose by hand (`express_app.ts`: one app shape, one process each),
 * loaded with 50 connections by wrk (`wrk.ts`: one thread, the requests pre-formatted from a file of
 * tokens), or by autocannon from this process where wrk is not installed (or with
 * `--load-generator autocannon`), on two token streams:
 *   - repeated: one token on every request (a client reusing its access token);
 *   - fresh: a cycle of FRESH_TOKENS distinct tokens, three times the SDK's default cache (10,000),
 *     so that no token is still cached when it comes round again: every request checks a signature.
 * Interleaved rounds: after a warm-up of each, round r loads each app in turn (the order rotated each
 * round), so the machine's drift hits all of them alike; the median round is reported, and the ratios
 * are of medians. A real Latchkey server serves discovery, the JWKS, and the feed; the tokens are
 * signed with its key, read from its database. Prints a table, then one JSON line of figures (the
 * targets of `report.ts` read it).
 *
 * Each run also reports the app's CPU per request (user + system of its process, threads included, from
 * /proc), which other load on the machine disturbs far less than the rate; its main thread's alone (the
 * event loop, which bounds a Node.js app's rate: 1 s ÷ its CPU a request) and how busy it was; the
 * load generator's CPU a request and the cores left idle. From these, the last lines say what each
 * target leaves the SDK's event loop a request: 1 s ÷ (the target × Auth0's rate).
 *
 * Usage: node dist/bench/express_sdk.js [--seconds S] [--rounds N] [--connections N] [--apps A,B]
 *          [--load-generator wrk|autocannon]
 *        (default 5 s per run, 3 rounds, 50 connections, apps latchkey,auth0,jose,none, wrk when it
 *        is on PATH; none = the same app without a token check, its ceiling; also
 *        latchkey-inline and latchkey-offload, the SDK with `offloadSignatureChecks` false or true)
 *        APP_EXEC_ARGV="--cpu-prof --cpu-prof-dir=DIR" passes node flags to the apps (to profile them).
 * Targets: the SDK >= 2x express-oauth2-jwt-bearer on a repeated token, >= 1.2x on fresh tokens.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import {
  cpuSeconds,
  machineIdleSeconds,
  reapedChildrenCpuSeconds,
  threadCpuSeconds,
} from './harness.js'
import { signWithServerKey } from './server_tokens.js'
import { createClient, startServer } from '../test/helpers/server.js'
import { cycleScript, findWrk, runWrk, wrkVersion } from './wrk.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    apps: { type: 'string', default: 'latchkey,auth0,jose,none' },
    'load-generator': { type: 'string' },
  },
})
const SECONDS = Math.max(1, Math.ceil(Number(values.seconds)))
const ROUNDS = Math.max(1, Math.floor(Number(values.rounds)))
const CONNECTIONS = Math.max(1, Math.floor(Number(values.connections)))
const FRESH_TOKENS = 30_000
const APP = fileURLToPath(new URL('./express_app.js', import.meta.url))
const GENERATOR = values['load-generator'] ?? (findWrk() === null ? 'autocannon' : 'wrk')
if (GENERATOR !== 'wrk' && GENERATOR !== 'autocannon')
  throw new Error(`--load-generator must be wrk or autocannon, not ${JSON.stringify(GENERATOR)}`)
if (GENERATOR === 'wrk' && findWrk() === null) throw new Error('wrk is not on PATH')
const WRK = GENERATOR === 'wrk'

type Kind = 'latchkey' | 'latchkey-inline' | 'latchkey-offload' | 'auth0' | 'jose' | 'none'
const NAMES: Record<Kind, string> = {
  latchkey: '@latchkey/verifier/express',
  'latchkey-inline': 'SDK, offloadSignatureChecks false',
  'latchkey-offload': 'SDK, offloadSignatureChecks true',
  auth0: 'express-oauth2-jwt-bearer',
  jose: 'jose by hand (jwtVerify)',
  none: 'no token check (the ceiling)',
}

const KINDS = values.apps.split(',').map((k) => k.trim()) as Kind[]
for (const kind of KINDS)
  if (!(kind in NAMES)) throw new Error(`--apps: unknown ${JSON.stringify(kind)}`)

interface App {
  kind: Kind
  url: string
  child: ChildProcess
}

/** Starts the app of `kind`; null when its package is not installed (exit 3). */
async function startApp(kind: Kind, env: NodeJS.ProcessEnv): Promise<App | null | string> {
  const child = spawn(
    process.execPath,
    [...(process.env.APP_EXEC_ARGV?.split(' ').filter(Boolean) ?? []), APP, kind],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const lines = createInterface({ input: child.stdout })
  const exited = once(child, 'exit').then(([code]) => ({ exit: code as number | null }))
  const first = once(lines, 'line').then(([line]) => ({ line: line as string }))
  const outcome = await Promise.race([first, exited])
  if ('exit' in outcome)
    return outcome.exit === 3 ? null : `exited ${outcome.exit}: ${stderr.trim()}`
  const { port } = JSON.parse(outcome.line) as { port: number }
  return { kind, url: `http://127.0.0.1:${port}/api`, child }
}

interface Run {
  rate: number
  /** The app's CPU per request, µs (null where /proc cannot be read). */
  cpuMicros: number | null
  /** The load generator's CPU per request, µs (wrk, or this process for autocannon). */
  loadCpuMicros: number | null
  /** The app's main thread (its event loop) CPU per request, µs. */
  loopCpuMicros: number | null
  /** The share of the run the app's main thread was on a CPU (1: its event loop was saturated). */
  loopBusy: number | null
  /** Cores left idle over the run, on average (0: the machine was saturated). */
  idleCores: number | null
  p99: number
  non2xx: number
  errors: number
}

/** What a load generator reports of a run (the rest is read from /proc around it). */
type Measured = Pick<Run, 'rate' | 'p99' | 'non2xx' | 'errors'>

const CORES = availableParallelism()
const percent = (v: number | null): string => (v === null ? '?' : `${(v * 100).toFixed(0)}%`)

/** CPU seconds of `pid`'s main thread, its event loop (null where /proc is missing). */
const loopCpuSeconds = (pid: number): number | null =>
  threadCpuSeconds(pid).get('main thread (event loop)') ?? null

/** A token stream: one token (repeated) or a cycle (fresh), and wrk's script sending it. */
interface Stream {
  tokens: readonly string[]
  /** Null when autocannon loads it. */
  wrkScript: string | null
}

/** One run of `seconds` on `app`. */
async function load(app: App, stream: Stream, seconds: number): Promise<Run> {
  const generatorCpu = (): number | null =>
    stream.wrkScript === null
      ? (({ user, system }) => (user + system) / 1e6)(process.cpuUsage())
      : reapedChildrenCpuSeconds()
  const before = cpuSeconds(app.child.pid!, false)
  const loopBefore = loopCpuSeconds(app.child.pid!)
  const generatorBefore = generatorCpu()
  const idleBefore = machineIdleSeconds()
  const started = performance.now()
  const run =
    stream.wrkScript === null
      ? await loadUrl(app.url, stream.tokens, seconds)
      : await loadWithWrk(app.url, stream.wrkScript, seconds)
  const wall = (performance.now() - started) / 1000
  const idleAfter = machineIdleSeconds()
  const generatorAfter = generatorCpu()
  const after = cpuSeconds(app.child.pid!, false)
  const loopAfter = loopCpuSeconds(app.child.pid!)
  const requests = run.rate * seconds
  const perRequest = (a: number | null, b: number | null): number | null =>
    a === null || b === null || requests <= 0 ? null : ((b - a) / requests) * 1e6
  const idleCores =
    idleBefore === null || idleAfter === null ? null : (idleAfter - idleBefore) / wall
  return {
    ...run,
    cpuMicros: perRequest(before, after),
    loadCpuMicros: perRequest(generatorBefore, generatorAfter),
    loopCpuMicros: perRequest(loopBefore, loopAfter),
    loopBusy: loopBefore === null || loopAfter === null ? null : (loopAfter - loopBefore) / wall,
    idleCores,
  }
}

async function loadWithWrk(url: string, script: string, seconds: number): Promise<Measured> {
  const { requests, durationMicros, errors, latencyMicros } = await runWrk(
    url,
    CONNECTIONS,
    seconds,
    script,
  )
  return {
    rate: durationMicros > 0 ? requests / (durationMicros / 1e6) : 0,
    p99: Math.round(latencyMicros.p99 / 10) / 100,
    non2xx: errors.status,
    errors: errors.connect + errors.read + errors.write + errors.timeout,
  }
}

/** Writes the stream of `tokens` for wrk into `folder` (the tokens, then the script reading them). */
function wrkStream(folder: string, name: string, tokens: readonly string[]): Stream {
  const values = join(folder, `${name}.txt`)
  writeFileSync(values, tokens.map((t) => `Bearer ${t}\n`).join(''))
  const script = join(folder, `${name}.lua`)
  writeFileSync(script, cycleScript('authorization', values))
  return { tokens, wrkScript: script }
}

function loadUrl(url: string, tokens: readonly string[], seconds: number): Promise<Measured> {
  let next = Math.floor(Math.random() * tokens.length)
  const bearer = tokens.map((t) => `Bearer ${t}`)
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections: CONNECTIONS,
        duration: seconds,
        pipelining: 1,
        timeout: 10,
        requests: [
          {
            method: 'GET',
            setupRequest: (request) => {
              const authorization = bearer[next]!
              next = (next + 1) % bearer.length
              return { ...request, headers: { ...request.headers, authorization } }
            },
          },
        ],
      },
      (error: unknown, result) => {
        if (error)
          reject(error instanceof Error ? error : new Error(`autocannon: ${JSON.stringify(error)}`))
        else
          resolve({
            rate: result.requests.mean,
            p99: result.latency.p99,
            non2xx: result.non2xx,
            errors: result.errors,
          })
      },
    )
  })
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor((s.length - 1) / 2)] ?? 0
}

const server = await startServer({ env: { LATCHKEY_LOG_LEVEL: 'warn' } })
const apps: App[] = []
const folder = mkdtempSync(join(tmpdir(), 'latchkey-express-'))
try {
  const api = createClient(
    server.db,
    'bench-api',
    '--grant',
    'client_credentials',
    '--resource-server',
  )
  const tokens = await signWithServerKey(server.db, FRESH_TOKENS, (i, now) => ({
    iss: server.url,
    sub: `user-${i}`,
    aud: server.url,
    exp: now + 3600,
    iat: now,
    jti: `jti-${i}-${Math.random().toString(36).slice(2)}`,
    client_id: 'bench-app',
    scope: 'read',
  }))

  const env = {
    ...process.env,
    ISSUER: server.url,
    AUDIENCE: server.url,
    CLIENT_ID: api.client_id,
    CLIENT_SECRET: api.client_secret,
  }
  const missing: Kind[] = []
  for (const kind of KINDS) {
    const app = await startApp(kind, env)
    if (app === null) missing.push(kind)
    else if (typeof app === 'string') throw new Error(`${NAMES[kind]}: ${app}`)
    else apps.push(app)
  }
  // Every app must accept a valid token and refuse a forged one before it is loaded (but the one
  // that checks none).
  const forged = `${tokens[0]!.slice(0, -4)}AAAA`
  for (const app of apps.filter((a) => a.kind !== 'none')) {
    const ok = await fetch(app.url, { headers: { authorization: `Bearer ${tokens[0]}` } })
    const body = (await ok.json()) as { sub?: string }
    if (ok.status !== 200 || body.sub !== 'user-0')
      throw new Error(`${NAMES[app.kind]}: a valid token got ${ok.status} ${JSON.stringify(body)}`)
    const bad = await fetch(app.url, { headers: { authorization: `Bearer ${forged}` } })
    if (bad.status !== 401) throw new Error(`${NAMES[app.kind]}: a forged token got ${bad.status}`)
  }

  const stream = (name: string, list: readonly string[]): Stream =>
    WRK ? wrkStream(folder, name, list) : { tokens: list, wrkScript: null }
  const streams = { repeated: stream('repeated', [tokens[0]!]), fresh: stream('fresh', tokens) }
  const runs = new Map<string, Run[]>()
  for (const [stream, list] of Object.entries(streams)) {
    for (const app of apps) await load(app, list, 1) // warm-up, not counted
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < apps.length; k++) {
        const app = apps[(round + k) % apps.length]!
        const run = await load(app, list, SECONDS)
        if (run.non2xx > 0 || run.errors > 0)
          throw new Error(
            `${NAMES[app.kind]}, ${stream}: ${run.non2xx} non-2xx, ${run.errors} errors`,
          )
        const key = `${app.kind}:${stream}`
        runs.set(key, [...(runs.get(key) ?? []), run])
      }
    }
  }

  const rate = (kind: Kind, stream: string): number | null => {
    const r = runs.get(`${kind}:${stream}`)
    return r ? median(r.map((x) => x.rate)) : null
  }
  /** The median of `field` over `kind`'s runs on `stream`; null where it was not read. */
  const medianOf = (
    kind: Kind,
    stream: string,
    field: 'cpuMicros' | 'loopCpuMicros' | 'loopBusy' | 'loadCpuMicros' | 'idleCores',
  ): number | null => {
    const values = (runs.get(`${kind}:${stream}`) ?? []).flatMap((x) =>
      x[field] === null ? [] : [x[field]],
    )
    return values.length === 0 ? null : median(values)
  }
  /** The median CPU a request of `kind`'s app on `stream`, µs; null where it was not read. */
  const cpuOf = (kind: Kind, stream: string): number | null => medianOf(kind, stream, 'cpuMicros')
  const loopOf = (kind: Kind, stream: string): number | null =>
    medianOf(kind, stream, 'loopCpuMicros')
  /**
   * The most event-loop CPU a request the SDK's app may spend to be `minimum` times Auth0's rate on
   * `stream`, µs. A Node.js app serves at most 1 s ÷ its event loop's CPU a request (its main thread
   * runs every request's JavaScript), so even with its loop never idle it needs at most
   * 1 s ÷ (`minimum` × Auth0's rate). The app without a token check spends the least any app can.
   */
  const budget = (stream: string, minimum: number): number | null => {
    const auth0 = rate('auth0', stream)
    return auth0 === null || auth0 <= 0 ? null : 1e6 / (minimum * auth0)
  }
  const ratio = (a: number | null, b: number | null): number | null =>
    a === null || b === null || b <= 0 ? null : a / b
  console.log(
    `Express API, GET /api behind each middleware (node ${process.version}; ${CONNECTIONS} connections, ` +
      `${ROUNDS} interleaved rounds of ${SECONDS} s, median; fresh = a cycle of ${FRESH_TOKENS.toLocaleString('en-US')} tokens; ` +
      `${WRK ? `wrk ${wrkVersion()}` : `autocannon${values['load-generator'] ? '' : ' (wrk is not on PATH)'}`})`,
  )
  for (const stream of Object.keys(streams)) {
    for (const kind of KINDS) {
      const r = runs.get(`${kind}:${stream}`)
      const line = r
        ? `${Math.round(rate(kind, stream)!).toLocaleString('en-US').padStart(8)} req/s  p99 ${median(r.map((x) => x.p99))} ms  ` +
          `CPU ${cpuOf(kind, stream)?.toFixed(0) ?? '?'} µs/req (${GENERATOR} ${medianOf(kind, stream, 'loadCpuMicros')?.toFixed(0) ?? '?'}, ` +
          `idle ${medianOf(kind, stream, 'idleCores')?.toFixed(2) ?? '?'} cores; event loop ${loopOf(kind, stream)?.toFixed(0) ?? '?'} µs/req, ` +
          `busy ${percent(medianOf(kind, stream, 'loopBusy'))})  rounds ${r.map((x) => Math.round(x.rate)).join(', ')}`
        : 'not measured (not installed)'
      console.log(`${stream.padEnd(9)} ${NAMES[kind].padEnd(28)} ${line}`)
    }
  }
  const figures = {
    latchkeyRepeatedPerSecond: rate('latchkey', 'repeated'),
    auth0RepeatedPerSecond: rate('auth0', 'repeated'),
    joseRepeatedPerSecond: rate('jose', 'repeated'),
    latchkeyFreshPerSecond: rate('latchkey', 'fresh'),
    auth0FreshPerSecond: rate('auth0', 'fresh'),
    joseFreshPerSecond: rate('jose', 'fresh'),
    repeatedVsAuth0: ratio(rate('latchkey', 'repeated'), rate('auth0', 'repeated')),
    freshVsAuth0: ratio(rate('latchkey', 'fresh'), rate('auth0', 'fresh')),
    repeatedVsJose: ratio(rate('latchkey', 'repeated'), rate('jose', 'repeated')),
    freshVsJose: ratio(rate('latchkey', 'fresh'), rate('jose', 'fresh')),
    noCheckRepeatedPerSecond: rate('none', 'repeated'),
    noCheckFreshPerSecond: rate('none', 'fresh'),
    // The app without a token check against Auth0's: more than any middleware could reach here.
    ceilingRepeatedVsAuth0: ratio(rate('none', 'repeated'), rate('auth0', 'repeated')),
    ceilingFreshVsAuth0: ratio(rate('none', 'fresh'), rate('auth0', 'fresh')),
    latchkeyRepeatedCpuMicros: cpuOf('latchkey', 'repeated'),
    auth0RepeatedCpuMicros: cpuOf('auth0', 'repeated'),
    noCheckRepeatedCpuMicros: cpuOf('none', 'repeated'),
    latchkeyFreshCpuMicros: cpuOf('latchkey', 'fresh'),
    auth0FreshCpuMicros: cpuOf('auth0', 'fresh'),
    noCheckFreshCpuMicros: cpuOf('none', 'fresh'),
    // The most event-loop CPU a request the SDK's app may spend to meet each target (`budget`).
    repeatedBudgetLoopCpuMicros: budget('repeated', 2),
    freshBudgetLoopCpuMicros: budget('fresh', 1.2),
    latchkeyRepeatedLoopCpuMicros: loopOf('latchkey', 'repeated'),
    auth0RepeatedLoopCpuMicros: loopOf('auth0', 'repeated'),
    noCheckRepeatedLoopCpuMicros: loopOf('none', 'repeated'),
    latchkeyFreshLoopCpuMicros: loopOf('latchkey', 'fresh'),
    auth0FreshLoopCpuMicros: loopOf('auth0', 'fresh'),
    noCheckFreshLoopCpuMicros: loopOf('none', 'fresh'),
    idleCores: median(
      [...runs.values()].flat().flatMap((r) => (r.idleCores === null ? [] : [r.idleCores])),
    ),
  }
  const x = (v: number | null): string => (v === null ? 'not measured' : `${v.toFixed(2)}x`)
  console.log(
    `SDK vs express-oauth2-jwt-bearer: repeated ${x(figures.repeatedVsAuth0)} (target >= 2x), ` +
      `fresh ${x(figures.freshVsAuth0)} (target >= 1.2x); vs jose by hand: repeated ` +
      `${x(figures.repeatedVsJose)}, fresh ${x(figures.freshVsJose)}`,
  )
  const share = (kind: Kind, stream: string): string => {
    const r = ratio(rate(kind, stream), rate('none', stream))
    return r === null ? 'not measured' : `${(r * 100).toFixed(0)}%`
  }
  if (rate('none', 'repeated') !== null)
    console.log(
      `share of the app without a token check: SDK repeated ${share('latchkey', 'repeated')}, ` +
        `fresh ${share('latchkey', 'fresh')}; express-oauth2-jwt-bearer repeated ` +
        `${share('auth0', 'repeated')}, fresh ${share('auth0', 'fresh')}`,
    )
  if (figures.ceilingRepeatedVsAuth0 !== null && figures.ceilingFreshVsAuth0 !== null)
    console.log(
      `the app without a token check vs express-oauth2-jwt-bearer (more than any middleware can ` +
        `reach in this app): repeated ${x(figures.ceilingRepeatedVsAuth0)}, fresh ${x(figures.ceilingFreshVsAuth0)}`,
    )
  const micros = (v: number | null): string => (v === null ? '?' : `${v.toFixed(0)} µs`)
  if (figures.repeatedBudgetLoopCpuMicros !== null && figures.freshBudgetLoopCpuMicros !== null)
    console.log(
      `what each target leaves the SDK's event loop (an app serves at most 1 s / its event loop's ` +
        `CPU a request; the machine had ${figures.idleCores.toFixed(2)} of ${CORES} cores idle): 2x ` +
        `express-oauth2-jwt-bearer on a repeated token needs <= ${micros(figures.repeatedBudgetLoopCpuMicros)} ` +
        `a request (the SDK's app spent ${micros(figures.latchkeyRepeatedLoopCpuMicros)}, the app ` +
        `without a token check ${micros(figures.noCheckRepeatedLoopCpuMicros)}); 1.2x on fresh tokens <= ` +
        `${micros(figures.freshBudgetLoopCpuMicros)} (SDK ${micros(figures.latchkeyFreshLoopCpuMicros)}, ` +
        `no check ${micros(figures.noCheckFreshLoopCpuMicros)})`,
    )
  if (missing.length > 0)
    console.log(
      `not installed: ${missing.map((k) => NAMES[k]).join(', ')} (npm install --save-dev express-oauth2-jwt-bearer)`,
    )
  console.log(JSON.stringify(figures))
} finally {
  for (const app of apps) app.child.kill('SIGTERM')
  await server.dispose()
  rmSync(folder, { recursive: true, force: true })
}

/**
 * `npm run bench`: in one run on this machine, with the same load generator and settings, measures
 *   - the floors: raw `node:crypto` ES256 sign and verify, and a bare `node:http` server (the sign
 *     loop again in token-jwt's interleaved rounds, where the target that uses it is measured);
 *   - Latchkey on SQLite (client_credentials JWT and opaque, introspection of each, the rotating
 *     refresh grant) and on PostgreSQL, without and with Redis, as one node (every case) and as two
 *     nodes on one database (the token and introspection cases), real CLI, real server;
 *   - the reference, oidc-provider, configured for the same work (`reference_server.ts`);
 *   - the login cost (argon2id verification) and, at the end, the Verifier SDK's own benchmarks;
 * the cases that Latchkey on SQLite (one process and 2 workers) shares with the reference in
 * interleaved rounds, all three up at once (`interleave.ts`), so that the ratios the targets rest on
 * are not skewed by the machine's drift; then prints a table with each Latchkey figure's ratio to the
 * reference and to the floor and the targets, writes `bench/results/latest.json` and draws
 * `docs/benchmark.svg`. Only a full run does:
 * `--quick` writes to `bench/results/quick/`, and a partial or shortened one (`--only`,
 * `--no-reference`, `--no-sdk`, `--postgres off`, `--redis off`, `--server`, or less than the default
 * warm-up, duration, runs or login runs) to `bench/results/partial.json` and `partial.svg`, all
 * ignored by git (`outputs.ts`).
 *
 * Usage: node dist/bench/run.js [--quick] [--duration S] [--warmup S] [--runs N] [--connections N]
 *          [--only ID,ID] [--server PATH] [--postgres URL|off] [--redis URL|off] [--no-reference]
 *          [--no-sdk] [--sessions N] [--login-runs N] [--wait-quiet S] [--load-generator wrk|autocannon]
 *   --quick        1 s warm-up, 1 s measured, 1 run: the whole run in about two minutes (a check of
 *                  the harness, not a figure to publish); default 3 s warm-up, 3 × 10 s measured
 *   --runs N       measured runs per case after one warm-up; the median is reported (default 3)
 *   --only         cases: token-jwt, token-dpop, token-opaque, introspect-opaque, introspect-jwt, refresh,
 *                  gateway-phantom, gateway-introspect (through NGINX, where it is installed)
 *   --server PATH  another build's dist/src/cli/main.js (to compare a patched copy); default this one
 *   --postgres URL maintenance database where the bench database is created and dropped (default
 *                  $LATCHKEY_BENCH_POSTGRES, $LATCHKEY_TEST_POSTGRES, or
 *                  postgres://postgres@127.0.0.1:5432/postgres); off: skip the engine
 *   --redis URL    the Redis server of the PostgreSQL + Redis systems (default
 *                  $LATCHKEY_BENCH_REDIS or redis://127.0.0.1:6379); each system's keys get a
 *                  prefix of their own (LATCHKEY_REDIS_PREFIX), deleted after it; off: skip them
 *   --connections  in all, per case (default 50); a two-node system gets half on each node
 *   --sessions N   sessions logged in for the refresh case (default: enough for every run)
 *   --wait-quiet S before each step, wait up to S s for other load to stop (default 20; --quick 0)
 *   --load-generator  wrk: wrk for the cases whose request never changes, autocannon for those built
 *                  from the previous response (`load.ts`); autocannon: autocannon for all (default
 *                  wrk when it is on PATH)
 * Exits 1 when a case FAILED (non-2xx, errors or a wrong body), 0 otherwise, targets met or not.
 */
import { existsSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { bareHttpTarget, CASE_IDS, type CaseId } from './cases.js'
import { writeChart } from './chart.js'
import { createSignRounds, measureCryptoFloors } from './floors.js'
import { freePort, Harness, peakRss, waitForQuiet, waitUntilReady } from './harness.js'
import { stopLoad, type LoadGenerator, type LoadSettings } from './load.js'
import { measureLoginCost } from './login_cost.js'
import { benchOutputs, FULL_RUN } from './outputs.js'
import { machineDescription } from './machine.js'
import { DEFAULT_POSTGRES } from './postgres.js'
import { POSTGRES_CASES, POSTGRES_SYSTEMS, runPostgresSystems } from './postgres_systems.js'
import { Progress } from './progress.js'
import { DEFAULT_REDIS } from './redis.js'
import { runInterleaved } from './interleave.js'
import {
  evaluateTargets,
  formatReport,
  formatSdk,
  writeResults,
  type BenchReport,
  type SystemId,
  type SystemReport,
} from './report.js'
import { runSdkBenches } from './sdk_benches.js'
import { findWrk, wrkVersion } from './wrk.js'
import {
  loadCase,
  runCases,
  startLatchkey,
  startReference,
  versionOf,
  type LatchkeyEngine,
  type RunContext,
  type RunningSystem,
} from './systems.js'

/**
 * The cases that feed a target against another system of the same run (the reference, or Latchkey
 * in one process against Latchkey in its default configuration): measured in interleaved rounds.
 */
const INTERLEAVED_CASES: readonly CaseId[] = ['token-jwt', 'token-opaque', 'introspect-opaque']

/** The Latchkey systems on SQLite, each on a database file of its own, up beside the reference. */
const SQLITE_SYSTEMS: readonly {
  id: LatchkeyEngine['id']
  file: string
  settings?: Partial<LatchkeyEngine>
}[] = [
  // One process, and `serve --workers 2` on a database of its own: the scaling from 1 to 2 cores.
  { id: 'latchkey-sqlite', file: 'latchkey-sqlite.db', settings: { workers: 1 } },
  { id: 'latchkey-sqlite-workers', file: 'latchkey-sqlite-workers.db', settings: { workers: 2 } },
]

const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url))
const ROOT = here('../..')
const DEFAULT_SERVER = here('../src/cli/main.js')
const BARE_SERVER = here('./bare_http_server.js')

interface Options {
  quick: boolean
  settings: LoadSettings
  only: CaseId[]
  server: string
  postgres: string | null
  redis: string | null
  reference: boolean
  sdk: boolean
  sessions: number
  loginRuns: number
  waitQuietSeconds: number
  /** Why `settings.generator` was chosen, for the report. */
  generatorReason: string
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`)
  return n
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      runs: { type: 'string' },
      connections: { type: 'string' },
      only: { type: 'string' },
      server: { type: 'string' },
      postgres: { type: 'string' },
      redis: { type: 'string' },
      'no-reference': { type: 'boolean', default: false },
      'no-sdk': { type: 'boolean', default: false },
      sessions: { type: 'string' },
      'login-runs': { type: 'string' },
      'wait-quiet': { type: 'string' },
      'load-generator': { type: 'string' },
    },
    strict: true,
  })
  const quick = values.quick ?? false
  const only = (values.only ?? CASE_IDS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  for (const id of only) {
    if (!(CASE_IDS as readonly string[]).includes(id)) {
      throw new Error(`--only: unknown case ${JSON.stringify(id)}; use ${CASE_IDS.join(', ')}`)
    }
  }
  const { generator, generatorReason } = chooseGenerator(values['load-generator'])
  const server = resolve(values.server ?? DEFAULT_SERVER)
  if (!existsSync(server)) throw new Error(`${server} not found: run the build first`)
  const settings: LoadSettings = {
    connections: Math.floor(positive('connections', values.connections, 50)),
    // autocannon stops on its one-second tick: whole seconds are what it runs.
    warmupSeconds: Math.ceil(positive('warmup', values.warmup, quick ? 1 : FULL_RUN.warmupSeconds)),
    measureSeconds: Math.ceil(
      positive('duration', values.duration, quick ? 1 : FULL_RUN.measureSeconds),
    ),
    runs: Math.floor(positive('runs', values.runs, quick ? 1 : FULL_RUN.runs)),
    generator,
  }
  const postgres =
    values.postgres ??
    process.env.LATCHKEY_BENCH_POSTGRES ??
    process.env.LATCHKEY_TEST_POSTGRES ??
    DEFAULT_POSTGRES
  const redis = values.redis ?? process.env.LATCHKEY_BENCH_REDIS ?? DEFAULT_REDIS
  return {
    quick,
    settings,
    only: only as CaseId[],
    server,
    postgres: postgres === 'off' ? null : postgres,
    redis: redis === 'off' ? null : redis,
    reference: !(values['no-reference'] ?? false),
    sdk: !(values['no-sdk'] ?? false),
    // Each run (warm-up included) may strand one session per connection: one pool for all of them.
    sessions: Math.floor(
      positive('sessions', values.sessions, settings.connections * (settings.runs + 2) + 50),
    ),
    loginRuns: Math.floor(
      positive('login-runs', values['login-runs'], quick ? 10 : FULL_RUN.loginRuns),
    ),
    waitQuietSeconds:
      values['wait-quiet'] === '0'
        ? 0
        : positive('wait-quiet', values['wait-quiet'], quick ? 0 : 20),
    generatorReason,
  }
}

/** The load generator `--load-generator` asks for, else wrk when it is on PATH; and why. */
function chooseGenerator(asked: string | undefined): {
  generator: LoadGenerator
  generatorReason: string
} {
  const wrk = findWrk()
  if (asked === undefined)
    return wrk === null
      ? { generator: 'autocannon', generatorReason: 'wrk is not on PATH' }
      : { generator: 'wrk', generatorReason: `wrk found at ${wrk}` }
  if (asked !== 'wrk' && asked !== 'autocannon')
    throw new Error(`--load-generator must be wrk or autocannon, not ${JSON.stringify(asked)}`)
  if (asked === 'wrk' && wrk === null) throw new Error('--load-generator wrk: wrk is not on PATH')
  return { generator: asked, generatorReason: `--load-generator ${asked}` }
}

/** The load generators of a run, their versions, and why, for the report. */
function describeGenerator(options: Options): string {
  const autocannon = `autocannon ${versionOf(here('../../node_modules/autocannon/package.json'))}`
  return options.settings.generator === 'wrk'
    ? `wrk ${wrkVersion()}, 1 thread per node (fixed requests); ${autocannon} in the harness ` +
        `process (requests built from the previous response); ${options.generatorReason}`
    : `${autocannon}, in the harness process, every case; ${options.generatorReason}`
}

/** The environment of the children: ours, without any LATCHKEY_* setting of the caller's shell. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('LATCHKEY_')) env[key] = value
  }
  return { ...env, ...extra }
}

async function bench(options: Options, harness: Harness): Promise<BenchReport> {
  const { settings } = options
  const startedAt = new Date().toISOString()
  const loadAverageAtStart = loadavg()
  const cases = options.only.length
  const postgresCases = POSTGRES_CASES.filter((id) => options.only.includes(id)).length
  const postgresSystems = options.postgres
    ? POSTGRES_SYSTEMS.filter((s) => !s.redis || options.redis !== null).length
    : 0
  const interleavedCases = INTERLEAVED_CASES.filter((id) => options.only.includes(id)).length
  const sqliteSystems = SQLITE_SYSTEMS.length
  const steps =
    4 +
    sqliteSystems +
    (options.reference ? 1 : 0) +
    interleavedCases +
    sqliteSystems * (cases - interleavedCases) +
    postgresSystems * (1 + postgresCases)
  const loadSteps =
    interleavedCases + sqliteSystems * (cases - interleavedCases) + postgresSystems * postgresCases
  const progress = new Progress(
    steps,
    loadSteps,
    settings.warmupSeconds + settings.runs * settings.measureSeconds,
  )
  /** Lets other people's builds and tests on the machine finish before a step measures anything. */
  const quiet = async (): Promise<void> => {
    if (options.waitQuietSeconds <= 0) return
    const load = await waitForQuiet(options.waitQuietSeconds, (busy, left) =>
      progress.waiting(`other load ${busy.toFixed(2)} cores; waiting for quiet`, left),
    )
    progress.done()
    if (load !== null && load >= 0.1) progress.note(`machine still busy (${load.toFixed(2)} cores)`)
  }
  const context: RunContext = {
    harness,
    settings,
    progress,
    only: options.only,
    quiet,
    env: childEnv,
  }

  const cryptoSeconds = options.quick ? 0.5 : 2
  progress.next(`floor: raw node:crypto ES256 sign and verify, ${cryptoSeconds} s each`)
  await quiet()
  const crypto = await measureCryptoFloors(cryptoSeconds)
  progress.note(
    `sign ${Math.round(crypto.es256SignPerSecond)} ops/s, verify ${Math.round(crypto.es256VerifyPerSecond)} ops/s` +
      `, other load ${crypto.cryptoOtherCpu === null ? '?' : crypto.cryptoOtherCpu.toFixed(2)} cores`,
  )

  progress.next('floor: bare node:http server', true)
  await quiet()
  const barePort = await freePort()
  const bare = harness.spawnNode('bare-http', [BARE_SERVER, String(barePort)])
  const bareTarget = bareHttpTarget(`http://127.0.0.1:${barePort}/introspect`)
  await waitUntilReady(bareTarget.url, bare, {
    method: 'POST',
    headers: bareTarget.headers,
    body: bareTarget.body,
  })
  const bareHttp = await loadCase(context, [bareTarget], [bare])
  const bareHttpPeakRssBytes = peakRss(bare.pid)
  await harness.stop(bare)

  // The systems the targets compare, up at once: their shared cases run in interleaved rounds
  // (`interleave.ts`), then each Latchkey system's other cases on their own.
  const group: RunningSystem[] = []
  for (const engine of SQLITE_SYSTEMS) {
    group.push(
      await startLatchkey(
        context,
        options.server,
        {
          id: engine.id,
          db: `sqlite:${join(harness.folder, engine.file)}`,
          cases: CASE_IDS,
          ...engine.settings,
        },
        options.sessions,
      ),
    )
  }
  let negativeControl: BenchReport['negativeControl'] = null
  if (options.reference) {
    const reference = await startReference(context)
    group.push(reference.system)
    negativeControl = reference.negativeControl
  }
  // token-jwt's floor drifts with the machine too: the sign loop runs in its rounds (`interleave.ts`).
  const { reports: measured, floors: roundFloors } = await runInterleaved(
    context,
    group,
    INTERLEAVED_CASES,
    [{ case: 'token-jwt', label: 'raw ES256 sign loop', measure: createSignRounds() }],
  )
  const reports = new Map<SystemId, SystemReport>()
  const referenceSystem = group.find((s) => s.id === 'reference')
  if (referenceSystem)
    reports.set('reference', await referenceSystem.finish(measured.get('reference') ?? []))
  for (const system of group) {
    if (system.id === 'reference') continue
    const rest = system.cases.filter((c) => !INTERLEAVED_CASES.includes(c.id))
    const own = await runCases(context, system.label, rest, system.servers, system.observed)
    const all = [...(measured.get(system.id) ?? []), ...own].sort(
      (a, b) => CASE_IDS.indexOf(a.id as CaseId) - CASE_IDS.indexOf(b.id as CaseId),
    )
    reports.set(system.id, await system.finish(all))
  }
  const systems: SystemReport[] = SQLITE_SYSTEMS.flatMap(({ id }) => reports.get(id) ?? [])

  if (options.postgres)
    systems.push(
      ...(await runPostgresSystems(context, {
        postgres: options.postgres,
        redis: options.redis,
        cli: options.server,
        sessions: options.sessions,
      })),
    )

  const reference = reports.get('reference')
  if (reference) systems.push(reference)

  progress.next(`login cost: argon2id verifyPassword × ${options.loginRuns}`)
  const loginCost = await measureLoginCost(options.loginRuns)
  progress.note(`${loginCost.meanMs.toFixed(2)} ms per verification`)

  const report: BenchReport = {
    startedAt,
    finishedAt: '',
    quick: options.quick,
    machine: { ...machineDescription(), loadAverageAtStart },
    loadGenerator: describeGenerator(options),
    settings,
    floors: { ...crypto, bareHttp, bareHttpPeakRssBytes },
    systems,
    negativeControl,
    loginCost,
    notMeasured: [
      ...(options.postgres
        ? []
        : ['Latchkey on PostgreSQL (with and without Redis): --postgres off']),
      ...(options.redis ? [] : ['Latchkey on PostgreSQL + Redis: --redis off']),
    ],
    targets: [],
    sdk: [],
  }
  report.floors.signInRounds = roundFloors.get('token-jwt')
  if (options.sdk) {
    progress.next('Verifier SDK benchmarks (child processes)')
    report.sdk = await runSdkBenches(options.quick, childEnv({}))
  }
  // After the SDK's benchmarks: the Express middleware's targets come from theirs.
  report.targets = evaluateTargets(report)
  report.finishedAt = new Date().toISOString()
  return report
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2))
  const harness = new Harness()
  let stopping = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      harness.closeNow()
      process.exit(130)
    }
    stopping = true
    process.stderr.write(`\n${signal}: stopping the children and removing ${harness.folder}\n`)
    stopLoad()
    void harness.close().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('exit', () => {
    stopLoad()
    harness.closeNow()
  })

  try {
    const started = performance.now()
    const report = await bench(options, harness)
    // Only a full run replaces the published (tracked) results; --quick and partial runs go aside.
    const out = benchOutputs(ROOT, options, CASE_IDS, DEFAULT_SERVER)
    writeResults(out.results, report)
    writeChart(out.chart, report)
    const took = ((performance.now() - started) / 1000).toFixed(0)
    const aside = out.published ? '' : ' (not a full run: the published results are unchanged)'
    process.stdout.write(
      `${formatReport(report)}\nraw results: ${out.results}${aside}\nchart: ${out.chart}\n` +
        `${formatSdk(report.sdk)}\n\nwhole run: ${took} s\n`,
    )
    const failed = [report.floors.bareHttp, ...report.systems.flatMap((s) => s.cases)].some(
      (c) => c.failure !== null,
    )
    const controlBroken = report.negativeControl !== null && report.negativeControl.failure === null
    return failed || controlBroken ? 1 : 0
  } finally {
    await harness.close()
  }
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  },
)

/**
 * The systems under test, each started as its own process on a free loopback port and loaded case by
 * case: Latchkey on an engine (the real CLI registers the clients and the user, `latchkey serve` runs
 * on the engine's database, with Redis or not, as one node or several sharing the database and the
 * issuer, each node one process or a cluster of workers) and the oidc-provider reference
 * (`reference_server.ts`).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  createClients,
  latchkeyCases,
  referenceCases,
  wrongSecretTarget,
  type BenchCase,
  type CaseId,
} from './cases.js'
import { freePort, peakRss, tailOf, waitUntilReady, type Child, type Harness } from './harness.js'
import {
  failureOf,
  medianRun,
  probe,
  runLoad,
  type LoadSettings,
  type LoadTarget,
  type Observed,
} from './load.js'
import type { BenchDatabase } from './postgres.js'
import type { Progress } from './progress.js'
import type { BenchRedis } from './redis.js'
import {
  SYSTEM_NAMES,
  type BenchReport,
  type CaseReport,
  type SystemId,
  type SystemReport,
} from './report.js'
import type { SessionPool } from './sessions.js'

const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url))
const REFERENCE_SERVER = here('./reference_server.js')

/** What every system's run needs from the harness. */
export interface RunContext {
  harness: Harness
  settings: LoadSettings
  progress: Progress
  only: readonly CaseId[]
  /** Waits (bounded) for other load on the machine to stop before a step. */
  quiet(): Promise<void>
  /** The environment for server processes: ours without the caller's LATCHKEY_* settings. */
  env(extra: Record<string, string>): NodeJS.ProcessEnv
}

/** The version field of an installed package (or of this project), for the report. */
export function versionOf(packageJsonPath: string): string {
  try {
    return (
      (JSON.parse(readFileSync(packageJsonPath, 'utf8')) as { version?: string }).version ?? '?'
    )
  } catch {
    return '?'
  }
}

export function caseReport(target: LoadTarget, runs: CaseReport['runs']): CaseReport {
  const failures = runs.map(failureOf).filter((f): f is string => f !== null)
  return {
    id: target.id,
    title: target.title,
    failure: failures.length > 0 ? failures.join(' | ') : null,
    result: runs.length > 0 ? medianRun(runs) : null,
    runs,
  }
}

/** Fails fast with the child's stderr when it has died under load. */
export function assertAlive(child: Child): void {
  const { exitCode, signalCode } = child.process
  if (exitCode !== null || signalCode !== null) {
    throw new Error(
      `${child.name} exited (${signalCode ?? exitCode}) during the run:\n${tailOf(child.stderrPath)}`,
    )
  }
}

/**
 * Warm-up and measured runs of `targets` (one per node, loaded at once) against the `servers`, with
 * a one-line summary.
 */
export async function loadCase(
  context: RunContext,
  targets: readonly LoadTarget[],
  servers: readonly Child[],
  observed: Omit<Observed, 'serverPids'> = {},
): Promise<CaseReport> {
  const { progress } = context
  const [target] = targets
  if (!target) throw new Error('nothing to load')
  const runs = await runLoad(
    targets,
    context.settings,
    { serverPids: servers.map((s) => s.pid), ...observed },
    progress,
  )
  for (const server of servers) assertAlive(server)
  const report = caseReport(target, runs)
  noteCase(progress, report)
  return report
}

/** The one-line summary of a case's median run under the progress line. */
export function noteCase(progress: Progress, report: CaseReport, prefix = ''): void {
  const r = report.result
  const perNode = r?.nodes
    ? ` (${r.nodes.map((n) => Math.round(n.requestsPerSecond)).join(' + ')})`
    : ''
  progress.note(
    prefix +
      (report.failure !== null || !r
        ? `FAILED: ${report.failure ?? 'no result'}`
        : `${Math.round(r.requestsPerSecond)} req/s${perNode}, p50 ${r.latencyMs.p50} ms, ` +
          `p99 ${r.latencyMs.p99} ms, other load ${r.otherCpu === null ? '?' : r.otherCpu.toFixed(2)} cores`),
  )
}

/** Each case: prepare (checked requests), load, and the same checks after the load. */
export async function runCases(
  context: RunContext,
  label: string,
  cases: BenchCase[],
  servers: readonly Child[],
  observed: Omit<Observed, 'serverPids'> = {},
): Promise<CaseReport[]> {
  const out: CaseReport[] = []
  for (const benchCase of cases) {
    if (!context.only.includes(benchCase.id)) continue
    context.progress.next(`${label}: ${benchCase.id}`, true)
    const targets = await benchCase.prepare()
    await context.quiet()
    const report = await loadCase(context, targets, servers, observed)
    // The server must still answer correctly after the load, not just answer.
    if (report.failure === null) await benchCase.check()
    out.push(report)
  }
  return out
}

/** A database or Redis URL as it may be shown: any password left out. */
function masked(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//…@')
}

async function stopServer(context: RunContext, child: Child, notes: string[]): Promise<void> {
  const exit = await context.harness.stop(child)
  if (exit !== '0')
    notes.push(`server exited with ${exit} on SIGTERM: ${tailOf(child.stderrPath, 500)}`)
}

/** Waits (at most 30 s) for the start-up lines of `latchkey serve --workers N` on its stderr. */
async function allWorkersListening(server: Child): Promise<void> {
  const deadline = Date.now() + 30_000
  while (!readFileSync(server.stderrPath, 'utf8').includes('latchkey: listening on')) {
    assertAlive(server)
    if (Date.now() > deadline)
      throw new Error(`${server.name}: not every worker listens after 30 s`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export interface LatchkeyEngine {
  id: Exclude<SystemId, 'reference'>
  /** `--db` URL. */
  db: string
  /** Which cases run on this engine. */
  cases: readonly CaseId[]
  database?: BenchDatabase
  /** `latchkey serve --redis`, with this prefix for the keys (`LATCHKEY_REDIS_PREFIX`). */
  redis?: { server: BenchRedis; prefix: string }
  /** How many `latchkey serve` processes share the database and the issuer (default 1). */
  nodes?: number
  /**
   * `latchkey serve --workers` of each node (default 1: one process, whatever the machine's cores,
   * so that the figures of the other systems mean one process).
   */
  workers?: number
}

/**
 * A system started and ready to be loaded: its servers, its cases, what is observed besides them;
 * `finish` stops it and makes its report from the cases measured (by `runCases` on it alone, or
 * interleaved with other systems by `interleave.ts`).
 */
export interface RunningSystem {
  id: SystemId
  label: string
  servers: readonly Child[]
  cases: BenchCase[]
  observed: Omit<Observed, 'serverPids'>
  finish(reports: CaseReport[]): Promise<SystemReport>
}

/** Latchkey on one engine, started (`startLatchkey`), each case loaded, then stopped. */
export async function runLatchkey(
  context: RunContext,
  cli: string,
  engine: LatchkeyEngine,
  sessions: number,
): Promise<SystemReport> {
  const system = await startLatchkey(context, cli, engine, sessions)
  return system.finish(
    await runCases(context, system.label, system.cases, system.servers, system.observed),
  )
}

/**
 * Latchkey on one engine: clients and user through the CLI, `latchkey serve` (each node in turn,
 * once the one before is ready, so the first creates the signing key and the others find it).
 */
export async function startLatchkey(
  context: RunContext,
  cli: string,
  engine: LatchkeyEngine,
  sessions: number,
): Promise<RunningSystem> {
  const { harness, progress } = context
  const label = SYSTEM_NAMES[engine.id]
  const nodes = engine.nodes ?? 1
  const workers = engine.workers ?? 1
  progress.next(`${label}: clients and user via the CLI, start, wait for /healthz`)
  // As in production: keys sealed at rest, and Redis entries authenticated (one HMAC each).
  const sealed = { LATCHKEY_KEY_ENCRYPTION_SECRET: 'latchkey benchmark key-encryption secret' }
  await createClients(harness, cli, engine.db, context.env(sealed))
  const servers: Child[] = []
  const baseUrls: string[] = []
  for (let node = 1; node <= nodes; node++) {
    const port = await freePort()
    const baseUrl = `http://127.0.0.1:${port}`
    const redis = engine.redis
    const server = harness.spawnNode(
      nodes > 1 ? `${engine.id}-node${node}` : engine.id,
      [
        ...[cli, 'serve', '--port', String(port), '--host', '127.0.0.1', '--db', engine.db],
        ...['--workers', String(workers)],
        ...(redis ? ['--redis', redis.server.url] : []),
      ],
      context.env({
        LATCHKEY_LOG_REQUESTS: 'false',
        // One deployment: every node issues tokens as the first one.
        LATCHKEY_ISSUER: baseUrls[0] ?? baseUrl,
        ...sealed,
        ...(redis ? { LATCHKEY_REDIS_PREFIX: redis.prefix } : {}),
      }),
    )
    servers.push(server)
    baseUrls.push(baseUrl)
    await waitUntilReady(`${baseUrl}/healthz`, server)
    // /healthz answers once one worker listens; the primary prints its lines once all of them do.
    if (workers > 1) await allWorkersListening(server)
    progress.note(`${nodes > 1 ? `node ${node}: ` : ''}pid ${server.pid}, ${baseUrl}`)
  }

  const cases = latchkeyCases(baseUrls, sessions, harness).filter((c) =>
    engine.cases.includes(c.id),
  )
  const database = engine.database
  const observed = {
    ...(database ? { companions: () => database.backendPids() } : {}),
    ...(engine.redis ? { redisPid: engine.redis.server.pid } : {}),
  }
  const finish = async (reports: CaseReport[]): Promise<SystemReport> => {
    const notes: string[] = []
    if (nodes > 1) {
      notes.push(
        `\`latchkey serve\` × ${nodes} (${baseUrls.join(', ')}) on one database, the first one's ` +
          'URL as the issuer of all; see "2 nodes" above for how they are loaded and counted',
      )
    }
    if (workers > 1) {
      notes.push(
        `\`latchkey serve --workers ${workers}\`: one primary and ${workers} worker processes on one ` +
          'port (node:cluster, round-robin); CPU and peak RSS are summed over all of them',
      )
    }
    if (engine.redis) {
      notes.push(
        `--redis ${masked(engine.redis.server.url)}, LATCHKEY_REDIS_PREFIX=${engine.redis.prefix} (its keys ` +
          `are deleted after the run); redis CPU = the whole Redis server process` +
          (engine.redis.server.pid === null ? ' (not on this machine: not measured)' : ''),
      )
    }
    const refresh = reports.find((r) => r.id === 'refresh')
    const pool = (cases.find((c) => c.id === 'refresh') as { pool?: SessionPool } | undefined)?.pool
    if (refresh && pool) {
      notes.push(
        `refresh: ${pool.size} sessions logged in through /authorize (PKCE), every request a real ` +
          `rotation with the session's current token; ${pool.lost} sessions lost in flight at the ` +
          `ends of runs, ${pool.starved} requests found no idle session`,
      )
    }
    let peakRssBytes: number | null = null
    for (const server of servers) {
      const peak = peakRss(server.pid)
      if (peak !== null) peakRssBytes = (peakRssBytes ?? 0) + peak
    }
    for (const server of servers) await stopServer(context, server, notes)
    const version = versionOf(join(cli, '../../../../package.json'))
    const extra =
      (engine.redis ? `, --redis ${masked(engine.redis.server.url)}` : '') +
      (nodes > 1 ? `, ${nodes} nodes` : '') +
      `, --workers ${workers}`
    return {
      id: engine.id,
      description: `latchkey ${version}, ${cli}, --db ${masked(engine.db)}` + extra,
      skipped: null,
      peakRssBytes,
      cases: reports,
      unsupported: [],
      notes,
    }
  }
  return { id: engine.id, label, servers, cases, observed, finish }
}

/** The reference: started (`startReference`), each case loaded, then stopped. */
export async function runReference(
  context: RunContext,
): Promise<{ system: SystemReport; negativeControl: BenchReport['negativeControl'] }> {
  const { system, negativeControl } = await startReference(context)
  return {
    system: await system.finish(
      await runCases(context, system.label, system.cases, system.servers, system.observed),
    ),
    negativeControl,
  }
}

/** The reference: its server, a negative control, and the cases it does not offer confirmed. */
export async function startReference(
  context: RunContext,
): Promise<{ system: RunningSystem; negativeControl: BenchReport['negativeControl'] }> {
  const { harness, progress } = context
  const version = versionOf(here('../../node_modules/oidc-provider/package.json'))
  progress.next(`oidc-provider ${version}: start, negative control`)
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const server = harness.spawnNode('reference', [REFERENCE_SERVER, String(port)], context.env({}))
  await waitUntilReady(`${baseUrl}/.well-known/openid-configuration`, server)
  // The failure path, proven on this very server: refused requests must make a case FAILED.
  const negativeControl = await probe(
    wrongSecretTarget(baseUrl),
    10,
    200,
    context.settings.generator,
  )
  progress.note(
    negativeControl.failure === null
      ? 'negative control BROKEN: refused requests were counted as clean'
      : `negative control: wrong secret → FAILED as it must (${negativeControl.failure})`,
  )
  const { cases, unsupported } = referenceCases(baseUrl)
  for (const u of unsupported) await u.confirm()
  const finish = async (reports: CaseReport[]): Promise<SystemReport> => {
    const notes: string[] = [
      'default storage: the in-memory adapter (an LRU of 1,000 entries per process: nothing survives' +
        ' a restart or is shared between processes)',
    ]
    const peakRssBytes = peakRss(server.pid)
    await stopServer(context, server, notes)
    return {
      id: 'reference',
      description: `oidc-provider ${version} (${join('bench', 'reference_server.ts')})`,
      skipped: null,
      peakRssBytes,
      cases: reports,
      unsupported: unsupported
        .filter((u) => context.only.includes(u.id))
        .map(({ id, reason, short }) => ({ id, reason, short })),
      notes,
    }
  }
  return {
    system: {
      id: 'reference',
      label: 'oidc-provider',
      servers: [server],
      cases,
      observed: {},
      finish,
    },
    negativeControl,
  }
}

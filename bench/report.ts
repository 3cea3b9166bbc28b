/**
 * The benchmark's report: its shape (written raw as JSON under `bench/results/`), the ratios and the
 * targets, and the text printed at the end of a run.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { CASE_IDS, CASE_TITLES, type CaseId } from './cases.js'
import type { CryptoFloors, SignFloorInRounds } from './floors.js'
import type { LoadResult, LoadSettings } from './load.js'
import { SPOT_CHECKS } from './load_wrk.js'
import type { LoginCost } from './login_cost.js'
import type { SdkBench } from './sdk_benches.js'

export interface CaseReport {
  id: string
  title: string
  /** Why the case is not reported as a number; null when every measured run was clean. */
  failure: string | null
  /** The median run. */
  result: LoadResult | null
  runs: LoadResult[]
}

export type SystemId =
  | 'latchkey-sqlite'
  | 'latchkey-sqlite-workers'
  | 'latchkey-postgres'
  | 'latchkey-postgres-workers'
  | 'latchkey-postgres-redis'
  | 'latchkey-postgres-2'
  | 'latchkey-postgres-redis-2'
  | 'reference'

export const SYSTEM_NAMES: Record<SystemId, string> = {
  'latchkey-sqlite': 'Latchkey, SQLite',
  'latchkey-sqlite-workers': 'Latchkey, SQLite, 2 workers',
  'latchkey-postgres': 'Latchkey, PostgreSQL',
  'latchkey-postgres-workers': 'Latchkey, PostgreSQL, 2 workers',
  'latchkey-postgres-redis': 'Latchkey, PostgreSQL + Redis',
  'latchkey-postgres-2': 'Latchkey, PostgreSQL, 2 nodes',
  'latchkey-postgres-redis-2': 'Latchkey, PostgreSQL + Redis, 2 nodes',
  reference: 'oidc-provider (reference)',
}

export interface SystemReport {
  id: SystemId
  /** What ran: the entry point and version, the database. */
  description: string
  /** Why the system was not measured at all; null when it was. */
  skipped: string | null
  /** The server's peak resident set over its whole life (VmHWM). */
  peakRssBytes: number | null
  cases: CaseReport[]
  /** Cases this system does not offer, and why. */
  unsupported: { id: CaseId; reason: string; short: string }[]
  notes: string[]
}

export interface Target {
  source: string
  name: string
  /** The Latchkey system measured (null: the SDK's, measured in its own benchmark). */
  system: SystemId | null
  /**
   * Whether the verdict is judged on this row: the configuration a user runs by default (one worker
   * per core); false: shown beside it for comparison (one process).
   */
  judged: boolean
  /** `times`: a ratio to another system; `share`: a fraction of a floor; `rate`: req/s itself. */
  kind: 'times' | 'share' | 'rate'
  /** The measured ratio, share or rate; null when not measured. */
  ratio: number | null
  minimum: number
  pass: boolean
  /** What the target asks for in req/s, or why it was not measured. */
  note: string | null
}

export interface BenchReport {
  startedAt: string
  finishedAt: string
  quick: boolean
  machine: {
    model: string
    cores: number
    totalMemoryBytes: number
    node: string
    platform: string
    arch: string
    loadAverageAtStart: number[]
  }
  loadGenerator: string
  settings: LoadSettings
  /** Measured in the same run; `es256SignPerSecond` and `es256VerifyPerSecond` at its start. */
  floors: CryptoFloors & {
    bareHttp: CaseReport
    bareHttpPeakRssBytes: number | null
    /**
     * The sign loop again, as one more participant of token-jwt's interleaved rounds: the floor of
     * token-jwt's ratio and target (`signFloor`). Absent when token-jwt did not run in rounds, and
     * in results written before it was measured there.
     */
    signInRounds?: SignFloorInRounds
  }
  systems: SystemReport[]
  /** The reference loaded with a wrong client secret: must come out failed. */
  negativeControl: { failure: string | null; statusCodes: Record<string, number> } | null
  loginCost: LoginCost | null
  /** Engines the issue names that were not measured, and why. */
  notMeasured: string[]
  targets: Target[]
  sdk: SdkBench[]
}

/** Other load, in cores, above which a run is flagged as disturbed. */
export const OTHER_LOAD_WARNING = 0.15

const int = (n: number): string => Math.round(n).toLocaleString('en-US')
const ms = (n: number): string => n.toFixed(2)
const pct = (n: number | null): string => (n === null ? '—' : `${(n * 100).toFixed(1)}%`)
const times = (n: number | null): string => (n === null ? '—' : `${n.toFixed(2)}x`)
const mib = (bytes: number | null): string =>
  bytes === null ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`

function table(head: string[], rows: string[][], right: boolean[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (right[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

/** The rate of a clean case, or null when it failed or did not run. */
export function rateOf(report: CaseReport | undefined): number | null {
  if (!report?.result || report.failure !== null) return null
  return report.result.requestsPerSecond
}

function ratio(rate: number | null, base: number | null): number | null {
  return rate === null || base === null || base <= 0 ? null : rate / base
}

export function caseOf(report: BenchReport, system: SystemId, id: CaseId): CaseReport | undefined {
  return report.systems.find((s) => s.id === system)?.cases.find((c) => c.id === id)
}

/**
 * The sign floor token-jwt is held against, and where it was measured (as printed). The median of
 * the sign loop's runs in token-jwt's own interleaved rounds when there are some: this VM's speed
 * drifts by a quarter from one minute to the next, so a floor measured minutes before the case would
 * put that drift into the ratio. Otherwise the floor measured at the start of the run.
 */
export function signFloor(report: BenchReport): { rate: number; measured: string } {
  const { floors } = report
  const inRounds = floors.signInRounds
  if (!inRounds) {
    return {
      rate: floors.es256SignPerSecond,
      measured:
        'sign floor measured once at the start of the run (token-jwt was not run in interleaved rounds)',
    }
  }
  const rounds = inRounds.rounds.map((r) => int(r.es256SignPerSecond)).join(' / ')
  return {
    rate: inRounds.es256SignPerSecond,
    measured:
      `sign floor measured in the same rounds: median of ${inRounds.rounds.length}, ` +
      `rounds ${rounds} ops/s`,
  }
}

/** The floor a case is held against: raw sign, raw verify, or the bare HTTP server. */
export function floorOf(report: BenchReport, id: CaseId): { name: string; rate: number | null } {
  const { floors } = report
  if (id === 'token-jwt') return { name: 'sign', rate: signFloor(report).rate }
  if (id === 'introspect-jwt') return { name: 'verify', rate: floors.es256VerifyPerSecond }
  return { name: 'http', rate: rateOf(floors.bareHttp) }
}

/** The SDK benchmark's figures (its JSON line), when it ran. */
function sdkFigures(report: BenchReport, name: string): Record<string, number | null> | null {
  return report.sdk.find((b) => b.name === name)?.figures ?? null
}

/**
 * The targets of issue 17 ("every core"): each Latchkey target judged on the configuration a user
 * runs by default (the workers systems, one worker per core), with one process shown beside it; when
 * the workers system was not measured, its row says so and one process is all there is.
 */
export function evaluateTargets(report: BenchReport): Target[] {
  const source = 'every core'
  const sign = signFloor(report)
  const present = (id: SystemId): boolean =>
    report.systems.some((s) => s.id === id && s.skipped === null)
  const target = (
    name: string,
    system: SystemId | null,
    judged: boolean,
    kind: Target['kind'],
    value: number | null,
    minimum: number,
    note: string | null = null,
  ): Target => ({
    source,
    name,
    system,
    judged,
    kind,
    ratio: value,
    minimum,
    pass: value !== null && value >= minimum,
    note:
      value === null && system !== null && !present(system) ? 'no such system in this run' : note,
  })
  /** A target on the default configuration (`workers`) and on one process (`single`). */
  const both = (
    workers: SystemId,
    single: SystemId,
    make: (system: SystemId, judged: boolean) => Target,
  ): Target[] => [make(workers, true), make(single, false)]
  /** `what` (case `id`) on Latchkey SQLite at least `minimum` times the reference's rate. */
  const versusReference = (what: string, id: CaseId, minimum: number): Target[] =>
    both('latchkey-sqlite-workers', 'latchkey-sqlite', (system, judged) =>
      target(
        `${what} vs the reference (${id}), ${SYSTEM_NAMES[system]}`,
        system,
        judged,
        'times',
        ratio(rateOf(caseOf(report, system, id)), rateOf(caseOf(report, 'reference', id))),
        minimum,
      ),
    )
  const out: Target[] = [
    ...versusReference('JWT issuance', 'token-jwt', 4),
    ...both('latchkey-sqlite-workers', 'latchkey-sqlite', (system, judged) =>
      target(
        `JWT issuance vs a raw ES256 sign loop (1 thread), ${SYSTEM_NAMES[system]}`,
        system,
        judged,
        'share',
        ratio(rateOf(caseOf(report, system, 'token-jwt')), sign.rate),
        0.5,
        `needs ${int(0.5 * sign.rate)} req/s; ${sign.measured}`,
      ),
    ),
    ...versusReference('opaque introspection', 'introspect-opaque', 5),
    ...both('latchkey-postgres-workers', 'latchkey-postgres', (system, judged) =>
      target(
        `the refresh grant, ${SYSTEM_NAMES[system]}`,
        system,
        judged,
        'rate',
        rateOf(caseOf(report, system, 'refresh')),
        1500,
      ),
    ),
  ]
  const express = sdkFigures(report, 'express')
  const sdk = (name: string, stream: 'Repeated' | 'Fresh', minimum: number): Target => {
    const value = express?.[`${stream.toLowerCase()}VsAuth0`] ?? null
    const figure = (key: string): number | null => express?.[key] ?? null
    const ceiling = figure(`ceiling${stream}VsAuth0`)
    const [sdkCpu, auth0Cpu] = [
      figure(`latchkey${stream}CpuMicros`),
      figure(`auth0${stream}CpuMicros`),
    ]
    const [sdkLoop, auth0Loop, noCheckLoop, budget] = [
      figure(`latchkey${stream}LoopCpuMicros`),
      figure(`auth0${stream}LoopCpuMicros`),
      figure(`noCheck${stream}LoopCpuMicros`),
      figure(`${stream.toLowerCase()}BudgetLoopCpuMicros`),
    ]
    return {
      ...target(name, null, true, 'times', value, minimum),
      note:
        value === null
          ? express === null
            ? 'the Express benchmark did not run'
            : 'express-oauth2-jwt-bearer not installed or failed'
          : [
              ceiling === null ? null : `the app without a token check: ${times(ceiling)}`,
              sdkCpu === null || auth0Cpu === null
                ? null
                : `CPU a request ${int(sdkCpu)} vs ${int(auth0Cpu)} µs`,
              sdkLoop === null || auth0Loop === null || budget === null
                ? null
                : `event loop a request ${int(sdkLoop)} vs ${int(auth0Loop)} µs (the target ` +
                  `allows ${int(budget)}; without a token check ${noCheckLoop === null ? '?' : int(noCheckLoop)})`,
            ]
              .filter((n) => n !== null)
              .join('; ') || null,
    }
  }
  out.push(
    sdk("SDK's Express middleware vs express-oauth2-jwt-bearer, repeated token", 'Repeated', 2),
    sdk("SDK's Express middleware vs express-oauth2-jwt-bearer, fresh tokens", 'Fresh', 1.2),
  )
  return out
}

/** A target's measured value and its minimum, as printed (2.31x, 48.0%, 1,234 req/s). */
export function targetFigures(t: Target): { value: string; minimum: string } {
  if (t.kind === 'rate')
    return {
      value: t.ratio === null ? '—' : `${int(t.ratio)} req/s`,
      minimum: `${int(t.minimum)} req/s`,
    }
  // A value just under its line is printed with the digits that show it is under (1.198x, not 1.20x).
  if (t.kind === 'share')
    return {
      value: t.ratio === null ? '—' : `${underLine(t.ratio * 100, t.minimum * 100, 1)}%`,
      minimum: pct(t.minimum),
    }
  return {
    value: t.ratio === null ? '—' : `${underLine(t.ratio, t.minimum, 2)}x`,
    minimum: `${t.minimum}x`,
  }
}

/** `n` with `digits` decimals, or up to three more where fewer would print a value under `line` as on it. */
function underLine(n: number, line: number, digits: number): string {
  let d = digits
  while (d < digits + 3 && n < line && Number(n.toFixed(d)) >= line) d++
  return n.toFixed(d)
}

function caseRow(report: BenchReport, system: SystemReport, c: CaseReport): string[] {
  const r = c.result
  const name = SYSTEM_NAMES[system.id]
  if (c.failure !== null || !r) return [c.id, name, 'FAILED']
  const id = c.id as CaseId
  const reference = system.id === 'reference' ? null : rateOf(caseOf(report, 'reference', id))
  const floor = floorOf(report, id)
  const ofFloor = ratio(r.requestsPerSecond, floor.rate)
  return [
    id,
    name,
    int(r.requestsPerSecond),
    ms(r.latencyMs.p50),
    ms(r.latencyMs.p99),
    int(r.non2xx),
    int(r.errors + r.mismatches),
    mib(r.peakRssBytes),
    pct(r.serverCpu),
    r.databaseCpu === null ? '' : pct(r.databaseCpu),
    r.redisCpu === null ? '' : pct(r.redisCpu),
    pct(r.loadGeneratorCpu),
    pct(r.otherCpu),
    system.id === 'reference' ? '' : times(ratio(r.requestsPerSecond, reference)),
    ofFloor === null ? '—' : `${pct(ofFloor)} ${floor.name}`,
  ]
}

/** Each node's rate and latency, for the cases whose load was split over several nodes. */
function nodeRows(report: BenchReport): string[][] {
  const rows: string[][] = []
  for (const id of CASE_IDS) {
    for (const system of report.systems) {
      const c = system.cases.find((x) => x.id === id)
      if (!c?.result?.nodes || c.failure !== null) continue
      for (const [i, node] of c.result.nodes.entries()) {
        rows.push([
          id,
          SYSTEM_NAMES[system.id],
          `${i + 1} (${new URL(node.url).host})`,
          int(node.connections),
          int(node.requestsPerSecond),
          ms(node.latencyMs.p50),
          ms(node.latencyMs.p99),
        ])
      }
    }
  }
  return rows
}

/** Each case's and floor's other load, for the warning. */
function disturbed(report: BenchReport): string[] {
  const out: string[] = []
  if ((report.floors.cryptoOtherCpu ?? 0) > OTHER_LOAD_WARNING) out.push('crypto floors')
  const signRounds = report.floors.signInRounds?.rounds ?? []
  if (signRounds.some((r) => (r.otherCpu ?? 0) > OTHER_LOAD_WARNING))
    out.push("the sign floor in token-jwt's rounds")
  if ((report.floors.bareHttp.result?.otherCpu ?? 0) > OTHER_LOAD_WARNING) out.push('bare-http')
  for (const system of report.systems) {
    for (const c of system.cases) {
      if ((c.result?.otherCpu ?? 0) > OTHER_LOAD_WARNING) out.push(`${c.id} (${system.id})`)
    }
  }
  return out
}

export function formatReport(report: BenchReport): string {
  const { machine, settings, floors } = report
  const out: string[] = []
  out.push(`Latchkey benchmark${report.quick ? ' (--quick)' : ''}, ${report.startedAt}`)
  out.push(
    `machine: ${machine.model}, ${machine.cores} cores, ${mib(machine.totalMemoryBytes)} RAM; ` +
      `Node ${machine.node} ${machine.platform}/${machine.arch}`,
  )
  out.push(
    `NOTE: the load generator (${report.loadGenerator}) shares the machine's ${machine.cores} cores ` +
      'with the server under test (and PostgreSQL with both); rates are for this machine only.',
  )
  out.push(
    `load: ${settings.connections} connections, keep-alive, no pipelining; warm-up ` +
      `${settings.warmupSeconds} s (not counted), then ${settings.runs} × ${settings.measureSeconds} s ` +
      `measured per case${settings.runs > 1 ? ', median run shown' : ''}`,
  )
  out.push(
    settings.generator === 'wrk'
      ? 'req/s: completed requests over the run (wrk), mean of per-second samples (autocannon: refresh,' +
          " token-dpop); latency: µs resolution, from wrk's histogram or every response (autocannon);" +
          ` bodies: ${SPOT_CHECKS} requests checked before and after each wrk run, every response under autocannon`
      : 'req/s: mean of per-second samples; latency: every response, µs resolution',
  )
  out.push('')

  out.push('Floors (same run)')
  const bare = floors.bareHttp.result
  out.push(
    table(
      ['floor', 'rate', 'p50 ms', 'p99 ms', 'peak RSS', 'other CPU'],
      [
        [
          'raw node:crypto ES256 sign, 1 thread, start of run',
          `${int(floors.es256SignPerSecond)} ops/s`,
        ],
        ...(floors.signInRounds
          ? [
              [
                `raw node:crypto ES256 sign, 1 thread, in token-jwt's rounds (median of ${floors.signInRounds.rounds.length})`,
                `${int(floors.signInRounds.es256SignPerSecond)} ops/s`,
              ],
            ]
          : []),
        ['raw node:crypto ES256 verify, 1 thread', `${int(floors.es256VerifyPerSecond)} ops/s`],
        floors.bareHttp.failure !== null || !bare
          ? [floors.bareHttp.title, `FAILED: ${floors.bareHttp.failure ?? 'no result'}`]
          : [
              floors.bareHttp.title,
              `${int(bare.requestsPerSecond)} req/s`,
              ms(bare.latencyMs.p50),
              ms(bare.latencyMs.p99),
              mib(bare.peakRssBytes),
              pct(bare.otherCpu),
            ],
      ].map((r) => [...r, '', '', '', '', ''].slice(0, 6)),
      [false, true, true, true, true, true],
    ),
  )
  out.push('')

  out.push('Endpoints')
  const rows: string[][] = []
  for (const id of CASE_IDS) {
    for (const system of report.systems) {
      const c = system.cases.find((x) => x.id === id)
      if (c) rows.push(caseRow(report, system, c))
      const unsupported = system.unsupported.find((u) => u.id === id)
      if (unsupported) rows.push([id, SYSTEM_NAMES[system.id], 'n/a (see below)'])
    }
  }
  out.push(
    table(
      [
        'case',
        'system',
        'req/s',
        'p50 ms',
        'p99 ms',
        'non-2xx',
        'errors',
        'peak RSS',
        'server CPU',
        'db CPU',
        'redis CPU',
        'load gen CPU',
        'other CPU',
        'vs reference',
        'vs floor',
      ],
      rows,
      [false, false, true, true, true, true, true, true, true, true, true, true, true, true, true],
    ),
  )
  out.push(
    'cases: ' + CASE_IDS.map((id) => `${id} = ${CASE_TITLES[id]}`).join('; ') + '.',
    'peak RSS: largest resident set of the server sampled during the case; CPU: share of one core' +
      ' over the measured run (100% = one core); db = the PostgreSQL backends of the bench database;' +
      ' redis = the whole Redis server process; load gen = the load generator (the wrk processes, or' +
      ' with autocannon the harness process); other = everything else on the machine. vs floor:' +
      " sign/verify = raw ES256 ops/s, http = bare node:http req/s; token-jwt's sign: " +
      `${signFloor(report).measured}.`,
  )
  const split = nodeRows(report)
  if (split.length > 0) {
    out.push(
      '2 nodes: two `latchkey serve` on one database and issuer, no balancer: two loads at once, one' +
        ' per node with half the connections each; req/s is their sum, p50 and p99 are over every' +
        " response of both (merged) under autocannon, the larger of the two nodes' under wrk (its" +
        ' histograms cannot be merged); server CPU and peak RSS are summed over both nodes;' +
        ' introspection on each node is of a token issued by the other.',
    )
    out.push('')
    out.push("2 nodes: each node's part of the load (median run)")
    out.push(
      table(['case', 'system', 'node', 'connections', 'req/s', 'p50 ms', 'p99 ms'], split, [
        false,
        false,
        false,
        true,
        true,
        true,
        true,
      ]),
    )
  }
  for (const system of report.systems) {
    if (system.skipped !== null)
      out.push(`${SYSTEM_NAMES[system.id]}: not measured: ${system.skipped}`)
    for (const u of system.unsupported)
      out.push(`${SYSTEM_NAMES[system.id]}, ${u.id}: n/a: ${u.reason}`)
    for (const note of system.notes) out.push(`${SYSTEM_NAMES[system.id]}: ${note}`)
  }
  for (const note of report.notMeasured) out.push(`not measured: ${note}`)
  const failed = [floors.bareHttp, ...report.systems.flatMap((s) => s.cases)].filter(
    (c) => c.failure !== null,
  )
  for (const c of failed) out.push(`FAILED ${c.id}: ${c.failure ?? ''}`)
  const busy = disturbed(report)
  const steps =
    2 +
    (report.floors.signInRounds ? 1 : 0) +
    report.systems.reduce((n, s) => n + s.cases.length, 0)
  if (busy.length === steps) busy.splice(0, busy.length, 'every step')
  if (busy.length > 0) {
    out.push(
      `WARNING: other processes used > ${OTHER_LOAD_WARNING} of a core during ${busy.join(', ')}:` +
        ' those numbers are low and noisy; run again on a quiet machine.',
    )
  }
  out.push('')

  if (report.negativeControl) {
    const n = report.negativeControl
    const codes = Object.entries(n.statusCodes)
      .map(([code, count]) => `${count}×${code}`)
      .join(', ')
    out.push(
      n.failure !== null
        ? `Negative control: the reference with a wrong client secret was reported FAILED (${codes}), as it must be.`
        : `Negative control BROKEN: a wrong client secret was counted as clean (${codes}).`,
    )
  }
  if (report.loginCost) {
    const l = report.loginCost
    out.push(
      `Login cost: argon2id verifyPassword ${ms(l.meanMs)} ms per verification (mean of ` +
        `${l.verifications}; p50 ${ms(l.p50Ms)}, min ${ms(l.minMs)}, max ${ms(l.maxMs)} ms); the ` +
        `server runs at most ${l.maxConcurrent} at once, so at most ~${int((l.maxConcurrent * 1000) / l.meanMs)} logins/s.`,
    )
  }
  out.push('')

  out.push(
    'Targets (every core; ratios from one run, the compared systems measured in interleaved rounds).' +
      ' Each is judged on the default configuration (one worker per core: the --workers systems);' +
      ' one process is shown beside it, not judged.',
  )
  for (const t of report.targets) {
    const { value, minimum } = targetFigures(t)
    const verdict =
      t.ratio === null
        ? `not measured${t.note === null ? '' : ` (${t.note})`}`
        : `${value}  ${t.judged ? (t.pass ? 'PASS' : 'MISS') : `(${t.pass ? 'would pass' : 'would miss'}, not judged)`}`
    const extra = t.note === null || t.ratio === null ? '' : `  (${t.note})`
    out.push(`  [${t.source}] ${t.name} >= ${minimum}: ${verdict}${extra}`)
  }
  const defaultMissing = report.targets.filter(
    (t) => t.judged && t.system !== null && t.ratio === null,
  )
  if (defaultMissing.some((t) => t.system?.endsWith('-workers') === true)) {
    out.push(
      '  The default configuration (--workers) was not measured in this run: the targets above have no' +
        ' verdict for it; the one-process rows are shown for information only.',
    )
  }
  out.push('')
  const peaks = report.systems
    .filter((s) => s.skipped === null)
    .map((s) => `${SYSTEM_NAMES[s.id]} ${mib(s.peakRssBytes)}`)
  out.push(
    `server peak RSS over the whole run (VmHWM): ${peaks.join(', ')}; bare node:http ` +
      mib(floors.bareHttpPeakRssBytes),
  )
  return out.join('\n')
}

/** The Verifier SDK benchmarks' own output, under their heading. */
export function formatSdk(sdk: SdkBench[]): string {
  if (sdk.length === 0) return ''
  const out = ['', 'Verifier SDK', '============']
  for (const bench of sdk) {
    out.push(`$ ${bench.command}${bench.seconds > 0 ? `   (${bench.seconds.toFixed(1)} s)` : ''}`)
    if (bench.output) out.push(bench.output.trimEnd())
    if (bench.failure !== null) out.push(`(${bench.name}: ${bench.failure})`)
  }
  return out.join('\n')
}

/** Writes the raw results, creating the folder. */
export function writeResults(path: string, report: BenchReport): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`)
}

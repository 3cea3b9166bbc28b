import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { signFloorInRounds, type SignFloorInRounds } from './floors.js'
import type { LoadResult } from './load.js'
import {
  evaluateTargets,
  floorOf,
  formatReport,
  targetFigures,
  type BenchReport,
  type CaseReport,
  type SystemId,
} from './report.js'

/** A clean case at `rate` req/s. */
function clean(id: string, rate: number): CaseReport {
  const result: LoadResult = {
    requestsPerSecond: rate,
    completedPerSecond: rate,
    requests: rate * 10,
    durationSeconds: 10,
    latencyMs: { p50: 1, p90: 2, p99: 3, mean: 1, max: 4 },
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    mismatches: 0,
    statusCodes: { '200': rate * 10 },
    serverCpu: 1,
    databaseCpu: null,
    redisCpu: null,
    peakRssBytes: null,
    loadGeneratorCpu: 0.5,
    harnessCpu: 0.1,
    otherCpu: 0,
    nodes: undefined,
  }
  return { id, title: id, failure: null, result, runs: [result] }
}

/**
 * A run whose start-of-run sign floor is 20,000 ops/s, with token-jwt at 14,000 req/s on both SQLite
 * systems, and `signInRounds` when given.
 */
function run(signInRounds?: SignFloorInRounds): BenchReport {
  const system = (id: SystemId): BenchReport['systems'][number] => ({
    id,
    description: id,
    skipped: null,
    peakRssBytes: null,
    cases: [clean('token-jwt', 14_000)],
    unsupported: [],
    notes: [],
  })
  return {
    startedAt: '2026-11-30T19:00:00.000Z',
    finishedAt: '2026-11-30T19:05:00.000Z',
    quick: false,
    machine: {
      model: 'test',
      cores: 2,
      totalMemoryBytes: 1024 ** 3,
      node: 'v20',
      platform: 'linux',
      arch: 'x64',
      loadAverageAtStart: [0, 0, 0],
    },
    loadGenerator: 'autocannon',
    settings: { connections: 50, warmupSeconds: 3, measureSeconds: 10, runs: 3, generator: 'wrk' },
    floors: {
      es256SignPerSecond: 20_000,
      es256VerifyPerSecond: 10_000,
      cryptoOtherCpu: 0,
      bareHttp: clean('bare-http', 40_000),
      bareHttpPeakRssBytes: null,
      signInRounds,
    },
    systems: [system('latchkey-sqlite'), system('latchkey-sqlite-workers')],
    negativeControl: null,
    loginCost: null,
    notMeasured: [],
    targets: [],
    sdk: [],
  }
}

const rounds = (...rates: number[]): SignFloorInRounds =>
  signFloorInRounds(
    rates.map((es256SignPerSecond) => ({ es256SignPerSecond, otherCpu: 0 })),
    10,
  )

const signTargets = (report: BenchReport) =>
  evaluateTargets(report).filter((t) => t.name.startsWith('JWT issuance vs a raw ES256 sign loop'))

describe('the sign floor of token-jwt', () => {
  it('is the median of the rounds, the lower middle one for an even count', () => {
    assert.equal(rounds(27_100, 28_900, 26_400).es256SignPerSecond, 27_100)
    assert.equal(rounds(30_000, 26_000).es256SignPerSecond, 26_000)
    assert.throws(() => rounds())
  })

  it("judges the target against the floor measured in token-jwt's rounds when there is one", () => {
    const report = run(rounds(27_100, 28_900, 26_400))
    assert.equal(floorOf(report, 'token-jwt').rate, 27_100)
    const targets = signTargets(report)
    assert.equal(targets.length, 2)
    for (const t of targets) {
      assert.equal(t.ratio, 14_000 / 27_100)
      assert.equal(t.pass, true)
      assert.match(t.note ?? '', /same rounds: median of 3, rounds 27,100 \/ 28,900 \/ 26,400/)
    }
  })

  it('falls back to the start-of-run floor when token-jwt did not run in rounds', () => {
    const report = run()
    assert.equal(floorOf(report, 'token-jwt').rate, 20_000)
    for (const t of signTargets(report)) {
      assert.equal(t.ratio, 14_000 / 20_000)
      assert.match(t.note ?? '', /start of the run/)
    }
  })

  it('prints which floor the ratio and the target use, and both floors', () => {
    const report = run(rounds(27_100, 28_900, 26_400))
    report.targets = evaluateTargets(report)
    const text = formatReport(report)
    assert.match(text, /ES256 sign, 1 thread, start of run +20,000 ops\/s/)
    assert.match(text, /ES256 sign, 1 thread, in token-jwt's rounds \(median of 3\) +27,100 ops\/s/)
    assert.match(text, /51\.7% sign/)
    assert.match(
      text,
      /raw ES256 sign loop \(1 thread\), Latchkey, SQLite, 2 workers >= 50\.0%: 51\.7% {2}PASS {2}\(needs 13,550 req\/s; sign floor measured in the same rounds/,
    )
  })
})

describe('the Express targets', () => {
  it('say what the app without a token check reaches, the CPU a request of each, and what the target leaves the event loop', () => {
    const report = run()
    report.sdk = [
      {
        name: 'express',
        command: 'node dist/bench/express_sdk.js',
        output: '',
        failure: null,
        seconds: 1,
        figures: {
          repeatedVsAuth0: 1.8,
          freshVsAuth0: 1.25,
          ceilingRepeatedVsAuth0: 1.9,
          ceilingFreshVsAuth0: 1.7,
          latchkeyRepeatedCpuMicros: 130,
          auth0RepeatedCpuMicros: 310,
          latchkeyFreshCpuMicros: 250,
          auth0FreshCpuMicros: 290,
          latchkeyRepeatedLoopCpuMicros: 70,
          auth0RepeatedLoopCpuMicros: 90,
          noCheckRepeatedLoopCpuMicros: 62,
          repeatedBudgetLoopCpuMicros: 45,
        },
      },
    ]
    const [repeated, fresh] = evaluateTargets(report).filter((t) => t.name.startsWith("SDK's"))
    assert.equal(repeated?.pass, false)
    assert.equal(
      repeated?.note,
      'the app without a token check: 1.90x; CPU a request 130 vs 310 µs; event loop a request ' +
        '70 vs 90 µs (the target allows 45; without a token check 62)',
    )
    assert.equal(fresh?.pass, true)
    assert.equal(fresh?.note, 'the app without a token check: 1.70x; CPU a request 250 vs 290 µs')
    report.sdk = []
    assert.equal(
      evaluateTargets(report).find((t) => t.name.startsWith("SDK's"))?.note,
      'the Express benchmark did not run',
    )
  })
})

describe('a target just under its line', () => {
  it('is printed with the digits that show it missed', () => {
    const base = { source: 'test', name: 't', system: null, judged: true, pass: false, note: null }
    assert.deepEqual(targetFigures({ ...base, kind: 'times', ratio: 1.198, minimum: 1.2 }), {
      value: '1.198x',
      minimum: '1.2x',
    })
    assert.deepEqual(targetFigures({ ...base, kind: 'times', ratio: 1.4912, minimum: 2 }), {
      value: '1.49x',
      minimum: '2x',
    })
    assert.equal(
      targetFigures({ ...base, kind: 'share', ratio: 0.49996, minimum: 0.5 }).value,
      '49.996%',
    )
    assert.equal(targetFigures({ ...base, kind: 'times', ratio: 2.004, minimum: 2 }).value, '2.00x')
  })
})

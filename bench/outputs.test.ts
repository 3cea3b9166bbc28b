import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { CASE_IDS } from './cases.js'
import { benchOutputs, FULL_RUN, profileOutput, type RunScope } from './outputs.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SERVER = join(ROOT, 'dist/src/cli/main.js')

/** A full run: every case and system, this build, the default length. */
const full: RunScope = {
  quick: false,
  settings: {
    warmupSeconds: FULL_RUN.warmupSeconds,
    measureSeconds: FULL_RUN.measureSeconds,
    runs: FULL_RUN.runs,
  },
  loginRuns: FULL_RUN.loginRuns,
  only: [...CASE_IDS],
  reference: true,
  sdk: true,
  postgres: 'postgres://postgres@127.0.0.1:5432/postgres',
  redis: 'redis://127.0.0.1:6379',
  server: SERVER,
}

/** The paths git tracks among `paths` (relative to the repository). */
function tracked(paths: string[]): string[] {
  const rel = paths.map((p) => relative(ROOT, p))
  const out = execFileSync('git', ['ls-files', '--', ...rel], { cwd: ROOT, encoding: 'utf8' })
  return out.split('\n').filter((l) => l !== '')
}

/** The paths git would not ignore among `paths`. */
function notIgnored(paths: string[]): string[] {
  const rel = paths.map((p) => relative(ROOT, p))
  let ignored = ''
  try {
    ignored = execFileSync('git', ['check-ignore', '--no-index', '--', ...rel], {
      cwd: ROOT,
      encoding: 'utf8',
    })
  } catch {
    // exit 1: none ignored
  }
  const set = new Set(ignored.split('\n'))
  return rel.filter((p) => !set.has(p))
}

describe('benchmark outputs', () => {
  it('writes the tracked results and chart only for a full run', () => {
    const out = benchOutputs(ROOT, full, CASE_IDS, SERVER)
    assert.equal(out.published, true)
    assert.deepEqual(tracked([out.results, out.chart]).sort(), [
      'bench/results/latest.json',
      'docs/benchmark.svg',
    ])
  })

  it('never points a --quick, partial or shortened run at a tracked file, and git ignores where it writes', () => {
    const variants: [string, Partial<RunScope>][] = [
      ['--quick', { quick: true, settings: { warmupSeconds: 1, measureSeconds: 1, runs: 1 } }],
      ['--quick with long settings', { quick: true }],
      ['--only', { only: ['token-jwt'] }],
      ['--no-reference', { reference: false }],
      ['--no-sdk', { sdk: false }],
      ['--postgres off', { postgres: null }],
      ['--redis off', { redis: null }],
      ['--server', { server: join(ROOT, 'elsewhere/main.js') }],
      ['--duration 1', { settings: { ...full.settings, measureSeconds: 1 } }],
      ['--warmup 1', { settings: { ...full.settings, warmupSeconds: 1 } }],
      ['--runs 1', { settings: { ...full.settings, runs: 1 } }],
      ['--login-runs 5', { loginRuns: 5 }],
      ['--quick --only', { quick: true, only: ['refresh'] }],
    ]
    for (const [name, change] of variants) {
      const out = benchOutputs(ROOT, { ...full, ...change }, CASE_IDS, SERVER)
      assert.equal(out.published, false, name)
      assert.deepEqual(tracked([out.results, out.chart]), [], name)
      assert.deepEqual(notIgnored([out.results, out.chart]), [], name)
    }
    const quick = benchOutputs(ROOT, { ...full, quick: true }, CASE_IDS, SERVER)
    assert.equal(relative(ROOT, quick.results), join('bench', 'results', 'quick', 'latest.json'))
  })

  it('keeps a shortened profile out of the tracked summaries', () => {
    const published = profileOutput(ROOT, 'token-jwt', 10)
    assert.equal(published.published, true)
    assert.deepEqual(tracked([published.path]), ['bench/results/profile-token-jwt.json'])
    const short = profileOutput(ROOT, 'token-jwt', 2)
    assert.equal(short.published, false)
    assert.deepEqual(tracked([short.path]), [])
    assert.deepEqual(notIgnored([short.path]), [])
  })
})

/**
 * Where a benchmark run writes. Only a full run (every case, every system and the SDK, this build, at
 * least the default length) replaces the tracked results, `bench/results/latest.json` and
 * `docs/benchmark.svg`. A `--quick` run writes to `bench/results/quick/`, any other partial or
 * shortened run to `bench/results/partial.json` and `partial.svg`: both ignored by git, so checking
 * the harness never dirties the work tree.
 */
import { join, resolve } from 'node:path'

/** The length of a full run: a shorter one is a check, not a figure to publish. */
export const FULL_RUN = { warmupSeconds: 3, measureSeconds: 10, runs: 3, loginRuns: 50 } as const

/** What decides where a run's results go (the run's options). */
export interface RunScope {
  quick: boolean
  settings: { warmupSeconds: number; measureSeconds: number; runs: number }
  loginRuns: number
  only: readonly string[]
  reference: boolean
  sdk: boolean
  postgres: string | null
  redis: string | null
  /** The CLI under test. */
  server: string
}

export interface BenchOutputs {
  results: string
  chart: string
  /** Whether these are the tracked, published files. */
  published: boolean
}

/**
 * The files a run described by `scope` writes, under the repository `root`. `allCases` is every case
 * id, `defaultServer` this build's CLI. Does not create anything.
 */
export function benchOutputs(
  root: string,
  scope: RunScope,
  allCases: readonly string[],
  defaultServer: string,
): BenchOutputs {
  const whole =
    allCases.every((id) => scope.only.includes(id)) &&
    scope.reference &&
    scope.sdk &&
    scope.postgres !== null &&
    scope.redis !== null &&
    resolve(scope.server) === resolve(defaultServer)
  const fullLength =
    scope.settings.warmupSeconds >= FULL_RUN.warmupSeconds &&
    scope.settings.measureSeconds >= FULL_RUN.measureSeconds &&
    scope.settings.runs >= FULL_RUN.runs &&
    scope.loginRuns >= FULL_RUN.loginRuns
  if (!scope.quick && whole && fullLength) {
    return {
      results: join(root, 'bench/results/latest.json'),
      chart: join(root, 'docs/benchmark.svg'),
      published: true,
    }
  }
  if (scope.quick) {
    return {
      results: join(root, 'bench/results/quick/latest.json'),
      chart: join(root, 'bench/results/quick/benchmark.svg'),
      published: false,
    }
  }
  return {
    results: join(root, 'bench/results/partial.json'),
    chart: join(root, 'bench/results/partial.svg'),
    published: false,
  }
}

/** The default load of `profile.ts`, seconds: a shorter profile is a check, kept out of git. */
export const FULL_PROFILE_SECONDS = 10

/** Where `profile.ts` writes its summary of `caseId`: tracked only for a full-length profile. */
export function profileOutput(
  root: string,
  caseId: string,
  seconds: number,
): { path: string; published: boolean } {
  const published = seconds >= FULL_PROFILE_SECONDS
  const folder = published ? 'bench/results' : 'bench/results/quick'
  return { path: join(root, folder, `profile-${caseId}.json`), published }
}

/**
 * Settings of the property-based and fuzz tests (fast-check). In `npm test` every property runs a few
 * hundred times from a fixed seed: fast and reproducible. `LATCHKEY_FUZZ_RUNS=N` runs each N times
 * instead, from a fresh seed unless `LATCHKEY_FUZZ_SEED` fixes one (fast-check prints the seed and the
 * path of any counterexample, to replay it):
 *
 *   LATCHKEY_FUZZ_RUNS=100000 npm test -- fuzz
 *
 * The same settings as the server's `test/helpers/fuzz.ts` (this package cannot import the server).
 */
import type { Parameters } from 'fast-check'

/** The seed of `npm test`'s runs. */
export const FUZZ_SEED = 0x1a7c4e7

function positiveInteger(name: string): number | undefined {
  const text = process.env[name]
  if (text === undefined || text === '') return undefined
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`)
  return n
}

/** How many runs a property gets: `defaultRuns`, or `LATCHKEY_FUZZ_RUNS` when it is set. */
export function fuzzRuns(defaultRuns: number): number {
  return positiveInteger('LATCHKEY_FUZZ_RUNS') ?? defaultRuns
}

/** Whether this is a long run (`LATCHKEY_FUZZ_RUNS` set). */
export const longFuzzRun = positiveInteger('LATCHKEY_FUZZ_RUNS') !== undefined

/** fast-check parameters for one property: `defaultRuns` runs from the fixed seed by default. */
export function fuzzParameters<T>(defaultRuns = 300): Parameters<T> {
  const seed =
    positiveInteger('LATCHKEY_FUZZ_SEED') ??
    (longFuzzRun ? Math.floor(Math.random() * 0x7fffffff) : FUZZ_SEED)
  return { seed, numRuns: fuzzRuns(defaultRuns) }
}

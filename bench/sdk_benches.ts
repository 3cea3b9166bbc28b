/**
 * The Verifier SDK's own benchmarks (`verifier.ts`: local JWT verification and cached introspection;
 * `verifier_dpop.ts`: what a DPoP proof adds to `verify`; `consistency_gap.ts`: time from a revocation
 * to its effect at a resource server), which belong to the SDK's owners: run here as child processes
 * at the end of the run, when they have been built, and reported as they print themselves. Their
 * failure is reported, never fatal to this benchmark.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export interface SdkBench {
  name: string
  command: string
  /** Whatever it printed on stdout; null when it did not run. */
  output: string | null
  /** Why it did not run or did not finish; null when it exited 0. */
  failure: string | null
  seconds: number
  /** The figures of its last line when that is a JSON object of numbers (or nulls); else null. */
  figures?: Record<string, number | null> | null
}

/** The JSON object on the last non-empty line of `stdout`, when there is one. */
export function figuresOf(stdout: string | null): Record<string, number | null> | null {
  const last = (stdout ?? '').trimEnd().split('\n').pop() ?? ''
  if (!last.startsWith('{')) return null
  try {
    const parsed = JSON.parse(last) as unknown
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null
    const out: Record<string, number | null> = {}
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof value === 'number' || value === null) out[key] = value
    }
    return out
  } catch {
    return null
  }
}

const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url))

function run(script: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv) {
  return new Promise<{ stdout: string; failure: string | null }>((resolve) => {
    execFile(
      process.execPath,
      [script, ...args],
      { env, timeout: timeoutMs, maxBuffer: 4 << 20 },
      (error, stdout, stderr) => {
        const tail = stderr.trim().split('\n').slice(-5).join('\n')
        resolve({
          stdout,
          failure: error
            ? `${error.killed ? 'timed out' : error.message.split('\n')[0]}\n${tail}`
            : null,
        })
      },
    )
  })
}

/** Runs the SDK benchmarks that exist in this build, one after the other. */
export async function runSdkBenches(quick: boolean, env: NodeJS.ProcessEnv): Promise<SdkBench[]> {
  const plans = [
    {
      name: 'verifier',
      script: here('./verifier.js'),
      args: quick ? ['--seconds', '0.5'] : [],
    },
    {
      name: 'verifier DPoP',
      script: here('./verifier_dpop.js'),
      args: quick ? ['--seconds', '0.5'] : [],
    },
    {
      name: 'express',
      script: here('./express_sdk.js'),
      args: quick ? ['--seconds', '1', '--rounds', '1'] : [],
    },
    {
      name: 'consistency gap',
      script: here('./consistency_gap.js'),
      args: quick ? ['--revocations', '20', '--cli', '2'] : [],
    },
  ]
  const out: SdkBench[] = []
  for (const plan of plans) {
    const command = `node ${['dist/bench/' + plan.script.split('/').pop(), ...plan.args].join(' ')}`
    if (!existsSync(plan.script)) {
      out.push({ name: plan.name, command, output: null, failure: 'not built', seconds: 0 })
      continue
    }
    const started = performance.now()
    const { stdout, failure } = await run(plan.script, plan.args, quick ? 60_000 : 600_000, env)
    out.push({
      name: plan.name,
      command,
      output: stdout,
      failure,
      figures: figuresOf(stdout),
      seconds: (performance.now() - started) / 1000,
    })
  }
  return out
}

/**
 * Where the token endpoint's time goes: starts `latchkey serve` (SQLite, the benchmark's clients)
 * under `node --cpu-prof`, loads one case (default: POST /token client_credentials, JWT) with wrk when
 * it is installed, else autocannon (`load.ts`; token-dpop always with autocannon) for a warm-up and then `--seconds` (default 10), stops the server with SIGINT (its graceful
 * exit path: `latchkey serve` handles SIGINT and SIGTERM by closing and calling `process.exit`, which
 * is when Node writes the profile), then reads the `.cpuprofile` and prints the top functions by self
 * time and by inclusive time, and self time by package.
 *
 * Usage: node dist/bench/profile.js [--case token-jwt|token-dpop|token-opaque|introspect-opaque|
 *          introspect-jwt]
 *          [--seconds S] [--connections N] [--top N] [--keep PATH]
 *   --keep PATH  copy the raw .cpuprofile there (open it in Chrome DevTools or speedscope)
 * Writes the summary to bench/results/profile-<case>.json (with fewer than the default 10 seconds,
 * to the untracked bench/results/quick/ instead).
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createClients, latchkeyCases, type CaseId } from './cases.js'
import { freePort, Harness, tailOf, threadCpuSeconds, waitUntilReady } from './harness.js'
import { runLoad } from './load.js'
import { FULL_PROFILE_SECONDS, profileOutput } from './outputs.js'
import { Progress } from './progress.js'
import { findWrk } from './wrk.js'
import { summarizeProfile, formatProfile, type CPUProfile } from './profile_summary.js'

const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url))
const CLI = here('../src/cli/main.js')
const PROFILED: readonly CaseId[] = [
  'token-jwt',
  'token-dpop',
  'token-opaque',
  'introspect-opaque',
  'introspect-jwt',
]

const { values } = parseArgs({
  options: {
    case: { type: 'string', default: 'token-jwt' },
    seconds: { type: 'string', default: String(FULL_PROFILE_SECONDS) },
    connections: { type: 'string', default: '50' },
    top: { type: 'string', default: '15' },
    keep: { type: 'string' },
  },
  strict: true,
})
const caseId = values.case as CaseId
if (!PROFILED.includes(caseId)) throw new Error(`--case must be one of ${PROFILED.join(', ')}`)
const seconds = Number(values.seconds)
const top = Number(values.top)

const harness = new Harness()
process.on('SIGINT', () => void harness.close().finally(() => process.exit(130)))
try {
  const db = `sqlite:${join(harness.folder, 'latchkey.db')}`
  // The caller's LATCHKEY_* settings are not the benchmark's.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('LATCHKEY_')),
  )
  await createClients(harness, CLI, db, env)
  const profileDir = join(harness.folder, 'profile')
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const server = harness.spawnNode(
    'server',
    [
      '--cpu-prof',
      `--cpu-prof-dir=${profileDir}`,
      CLI,
      // One process: the profile is of the process that serves (a primary only hands sockets on).
      ...['serve', '--port', String(port), '--host', '127.0.0.1', '--db', db, '--workers', '1'],
    ],
    {
      ...env,
      LATCHKEY_LOG_REQUESTS: 'false',
      LATCHKEY_ISSUER: baseUrl,
    },
  )
  await waitUntilReady(`${baseUrl}/healthz`, server)
  const benchCase = latchkeyCases([baseUrl], 0).find((c) => c.id === caseId)
  if (!benchCase) throw new Error(`no case ${caseId}`)
  const [target] = await benchCase.prepare()
  if (!target) throw new Error(`case ${caseId} has nothing to load`)
  const progress = new Progress(1)
  progress.next(`profiling ${caseId} (${target.title}) under load, pid ${server.pid}`)
  // Per-thread CPU over the warm-up and the measured load: the profile sees the main thread only.
  const threadsBefore = threadCpuSeconds(server.pid)
  const loadStarted = performance.now()
  const [run] = await runLoad(
    [target],
    {
      connections: Number(values.connections),
      warmupSeconds: 2,
      measureSeconds: seconds,
      runs: 1,
      generator: findWrk() === null ? 'autocannon' : 'wrk',
    },
    { serverPids: [server.pid] },
    progress,
  )
  const loadWall = (performance.now() - loadStarted) / 1000
  const threads = [...threadCpuSeconds(server.pid)]
    .map(([name, after]) => ({ name, cores: (after - (threadsBefore.get(name) ?? 0)) / loadWall }))
    .filter((t) => t.cores >= 0.005)
    .sort((a, b) => b.cores - a.cores)
  if (!run || run.non2xx + run.errors + run.mismatches > 0) {
    throw new Error(`the load did not run clean: ${JSON.stringify(run?.statusCodes)}`)
  }
  progress.note(
    `${Math.round(run.requestsPerSecond)} req/s, p99 ${run.latencyMs.p99} ms (profiling slows it down)`,
  )

  // SIGINT: the server's graceful exit path, after which Node writes the profile.
  const loadEnded = performance.now()
  server.process.kill('SIGINT')
  const exit = await server.exited
  const tailUs = (performance.now() - loadEnded) * 1000
  const files = readdirSync(profileDir, { withFileTypes: true }).filter(
    (f) => f.isFile() && f.name.endsWith('.cpuprofile'),
  )
  const file = files[0]
  if (exit !== '0' || !file) {
    throw new Error(
      `the server exited with ${exit} on SIGINT and wrote ${files.length} profiles:\n${tailOf(server.stderrPath)}`,
    )
  }
  const path = join(profileDir, file.name)
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CPUProfile
  // The measured load only: the `seconds` before the SIGINT (start-up and warm-up left out).
  const summary = summarizeProfile(profile, top, {
    fromEndUs: tailUs + seconds * 1e6,
    toEndUs: tailUs,
  })
  process.stdout.write(
    `CPU profile of latchkey serve under ${caseId} load, the ${seconds} s measured ` +
      `(SIGINT → profile written: ${file.name})\n` +
      `${formatProfile(summary)}\n\n` +
      'CPU by thread over the load (share of one core; the profile above is the main thread only)\n' +
      threads.map((t) => `  ${(t.cores * 100).toFixed(0).padStart(4)}%  ${t.name}`).join('\n') +
      '\n',
  )
  const out = profileOutput(here('../..'), caseId, seconds).path
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(
    out,
    `${JSON.stringify({ case: caseId, seconds, load: run, node: process.version, threads, ...summary }, null, 2)}\n`,
  )
  process.stdout.write(`summary: ${out}\n`)
  if (values.keep) {
    copyFileSync(path, values.keep)
    process.stdout.write(`profile: ${values.keep}\n`)
  }
} finally {
  await harness.close()
}

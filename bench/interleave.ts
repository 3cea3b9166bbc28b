/**
 * Comparisons in interleaved rounds. A ratio between two systems measured one after the other (all
 * of one, then all of the other) carries the machine's drift between them: on this VM the floors move
 * by a quarter from one minute to the next. So the cases that feed a target against another system
 * are measured with every compared system up at once: each one's checked request and warm-up, then
 * round after round one measured run of each (round 1: A, B, C; round 2: B, C, A; …, the order
 * rotated so that no system always runs first after the others), then the checks again. The drift
 * then hits every system alike, and each system's report keeps the shape of a case run on its own
 * (the median of its runs).
 */
import type { CaseId } from './cases.js'
import { measureRun, warmUp, type LoadResult, type LoadTarget } from './load.js'
import type { CaseReport, SystemId } from './report.js'
import {
  assertAlive,
  caseReport,
  noteCase,
  type RunContext,
  type RunningSystem,
} from './systems.js'

/**
 * Each case of `ids` that `context.only` selects, on every system of `systems` that offers it
 * (a case offered by fewer than two is still run, on its own); returns each system's case reports.
 */
export async function runInterleaved(
  context: RunContext,
  systems: readonly RunningSystem[],
  ids: readonly CaseId[],
): Promise<Map<SystemId, CaseReport[]>> {
  const { progress, settings } = context
  const out = new Map<SystemId, CaseReport[]>(systems.map((s) => [s.id, []]))
  for (const id of ids) {
    if (!context.only.includes(id)) continue
    const taking = systems.flatMap((system) => {
      const benchCase = system.cases.find((c) => c.id === id)
      return benchCase ? [{ system, benchCase }] : []
    })
    if (taking.length === 0) continue
    progress.next(
      `${id}, interleaved rounds: ${taking.map((t) => t.system.label).join(' | ')}`,
      true,
    )
    const loads: { targets: LoadTarget[]; runs: LoadResult[] }[] = []
    for (const { benchCase } of taking) loads.push({ targets: await benchCase.prepare(), runs: [] })
    await context.quiet()
    for (const [i, { system }] of taking.entries()) {
      await warmUp(loads[i]!.targets, settings, progress, `warm-up (${system.label})`)
    }
    for (let round = 0; round < settings.runs; round++) {
      for (let k = 0; k < taking.length; k++) {
        const i = (round + k) % taking.length
        const { system } = taking[i]!
        const load = loads[i]!
        const label = `round ${round + 1}/${settings.runs}, ${system.label}`
        const observed = { serverPids: system.servers.map((s) => s.pid), ...system.observed }
        load.runs.push(await measureRun(load.targets, settings, observed, progress, label))
      }
    }
    progress.done()
    for (const [i, { system, benchCase }] of taking.entries()) {
      for (const server of system.servers) assertAlive(server)
      const load = loads[i]!
      const report = caseReport(load.targets[0]!, load.runs)
      noteCase(progress, report, `${system.label}: `)
      // The server must still answer correctly after the load, not just answer.
      if (report.failure === null) await benchCase.check()
      out.get(system.id)?.push(report)
    }
  }
  return out
}

/**
 * Comparisons in interleaved rounds. A ratio between two systems measured one after the other (all
 * of one, then all of the other) carries the machine's drift between them: on this VM the floors move
 * by a quarter from one minute to the next. So the cases that feed a target against another system
 * are measured with every compared system up at once: each one's checked request and warm-up, then
 * round after round one measured run of each (round 1: A, B, C; round 2: B, C, A; …, the order
 * rotated so that no system always runs first after the others), then the checks again. The drift
 * then hits every system alike, and each system's report keeps the shape of a case run on its own
 * (the median of its runs).
 *
 * A floor a case is held against (the raw ES256 sign loop for token-jwt) drifts the same way, so it
 * can take part in the rounds too: one run of the same length as a measured run, at its own rotated
 * place among the systems, in this process with the systems idle.
 */
import type { CaseId } from './cases.js'
import { signFloorInRounds, type SignFloorInRounds, type SignRound } from './floors.js'
import { measureRun, warmUp, type LoadResult, type LoadTarget } from './load.js'
import type { CaseReport, SystemId } from './report.js'
import {
  assertAlive,
  caseReport,
  noteCase,
  type RunContext,
  type RunningSystem,
} from './systems.js'

/** A floor measured as one more participant of a case's rounds. */
export interface RoundFloor {
  case: CaseId
  /** What the progress line calls it. */
  label: string
  /** One run of `seconds`, calling `tick` with the seconds left. */
  measure: (seconds: number, tick: (secondsLeft: number) => void) => Promise<SignRound>
}

/**
 * Each case of `ids` that `context.only` selects, on every system of `systems` that offers it
 * (a case offered by fewer than two is still run, on its own), with the case's floor of `floors` as
 * one more participant of its rounds; returns each system's case reports and each case's floor.
 */
export async function runInterleaved(
  context: RunContext,
  systems: readonly RunningSystem[],
  ids: readonly CaseId[],
  floors: readonly RoundFloor[] = [],
): Promise<{ reports: Map<SystemId, CaseReport[]>; floors: Map<CaseId, SignFloorInRounds> }> {
  const { progress, settings } = context
  const out = new Map<SystemId, CaseReport[]>(systems.map((s) => [s.id, []]))
  const floorsOut = new Map<CaseId, SignFloorInRounds>()
  for (const id of ids) {
    if (!context.only.includes(id)) continue
    const taking = systems.flatMap((system) => {
      const benchCase = system.cases.find((c) => c.id === id)
      return benchCase ? [{ system, benchCase }] : []
    })
    if (taking.length === 0) continue
    const floor = floors.find((f) => f.case === id)
    const names = [...taking.map((t) => t.system.label), ...(floor ? [floor.label] : [])]
    progress.next(`${id}, interleaved rounds: ${names.join(' | ')}`, true)
    const loads: { targets: LoadTarget[]; runs: LoadResult[] }[] = []
    for (const { benchCase } of taking) loads.push({ targets: await benchCase.prepare(), runs: [] })
    await context.quiet()
    for (const [i, { system }] of taking.entries()) {
      await warmUp(loads[i]!.targets, settings, progress, `warm-up (${system.label})`)
    }
    const floorRounds: SignRound[] = []
    for (let round = 0; round < settings.runs; round++) {
      // The floor, when there is one, takes the place after the last system.
      for (let k = 0; k < names.length; k++) {
        const i = (round + k) % names.length
        const label = `round ${round + 1}/${settings.runs}, ${names[i]}`
        if (floor && i === taking.length) {
          progress.phase(`${id}: ${label}`, settings.measureSeconds)
          floorRounds.push(await floor.measure(settings.measureSeconds, (s) => progress.tick(s)))
          continue
        }
        const { system } = taking[i]!
        const load = loads[i]!
        const observed = { serverPids: system.servers.map((s) => s.pid), ...system.observed }
        load.runs.push(await measureRun(load.targets, settings, observed, progress, label))
      }
    }
    progress.done()
    if (floor) {
      const measured = signFloorInRounds(floorRounds, settings.measureSeconds)
      floorsOut.set(id, measured)
      const each = floorRounds.map((r) => Math.round(r.es256SignPerSecond)).join(' / ')
      progress.note(
        `${floor.label}: ${Math.round(measured.es256SignPerSecond)} ops/s (median; rounds ${each})`,
      )
    }
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
  return { reports: out, floors: floorsOut }
}

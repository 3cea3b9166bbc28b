/**
 * Where a signature is checked: on the event loop (`verifySync`), or off it, on the verifier's own
 * thread (`signature_worker.ts`). Inline is faster for one check at a time (no hand-off); under
 * concurrent load in a server, the event loop is the bottleneck and an ES256 verification is most of a
 * fresh token's cost, so moving it off lets another core do it while the loop parses the next request,
 * as Auth0's middleware and jose do on libuv's pool (in an Express API on 2 cores shared with the load
 * generator, one noisy run: about 1.4× the requests per second on fresh tokens, and less CPU per
 * request).
 *
 * `auto` (the default) decides from the event loop's utilisation, sampled every 100 ms: above 80% the
 * loop is saturated and checks go off it. They come back inline only when the loop would stay
 * under 50% busy with them: its own utilisation plus the checks it sent off in that sample,
 * each costing what an inline check was last seen to cost. Judging by the utilisation alone would
 * flap: with the checks off it, a loop that waits for them looks idle, takes them back, and is
 * saturated again one sample later (on 2 cores, fresh tokens, that flapping served about a fifth
 * fewer requests than keeping them off). A loop that never yields (a benchmark awaiting one check
 * after another) is never sampled and stays inline. On a machine with one core there is no other
 * core to give the work to: inline. Either way the check is the same: `node:crypto`'s `verify`
 * with the key's parameters, as `verifySync` calls it.
 */
import { availableParallelism } from 'node:os'
import { performance, type EventLoopUtilization } from 'node:perf_hooks'

export type OffloadMode = boolean | 'auto'

const SAMPLE_MS = 100
const BUSY = 0.8
const IDLE = 0.5
/** Weight of the newest inline check in the running mean of their cost. */
const COST_WEIGHT = 0.1

/** One sample of the event loop, for `auto`'s decision. */
export interface LoopSample {
  /** Share of the sample's time the loop was busy, 0–1. */
  utilization: number
  /** The sample's length, ms. */
  elapsedMs: number
  /** Checks sent off the loop during the sample. */
  offloaded: number
  /** What one inline check costs the loop, ms; 0 while none has been timed. */
  inlineMs: number
}

/**
 * `auto`'s decision after a sample: whether the next checks go off the loop. Saturated: off.
 * Off: back inline only when the loop, doing those checks itself, would stay under `IDLE`
 * (with no inline check timed yet, when it is under `IDLE` by itself).
 */
export function offloadAfter(offloading: boolean, sample: LoopSample): boolean {
  if (sample.utilization > BUSY) return true
  if (!offloading) return false
  const taken = sample.elapsedMs > 0 ? (sample.offloaded * sample.inlineMs) / sample.elapsedMs : 0
  return sample.utilization + taken >= IDLE
}

export class OffloadPolicy {
  private offloading: boolean
  private offloaded = 0
  private inlineMs = 0
  private readonly timer: NodeJS.Timeout | undefined

  constructor(mode: OffloadMode) {
    this.offloading = mode === true
    if (mode !== 'auto' || availableParallelism() < 2) return
    let last: EventLoopUtilization = performance.eventLoopUtilization()
    let lastAt = performance.now()
    this.timer = setInterval(() => {
      const now = performance.eventLoopUtilization()
      const at = performance.now()
      this.offloading = offloadAfter(this.offloading, {
        utilization: performance.eventLoopUtilization(now, last).utilization,
        elapsedMs: at - lastAt,
        offloaded: this.offloaded,
        inlineMs: this.inlineMs,
      })
      last = now
      lastAt = at
      this.offloaded = 0
    }, SAMPLE_MS)
    this.timer.unref()
  }

  /** Whether the next check goes off the loop; counts it when it does. */
  offloadNext(): boolean {
    if (this.offloading) this.offloaded++
    return this.offloading
  }

  /** Records what an inline check took (ms), the cost `auto` weighs before taking checks back. */
  readonly ranInline = (ms: number): void => {
    this.inlineMs = this.inlineMs === 0 ? ms : this.inlineMs + COST_WEIGHT * (ms - this.inlineMs)
  }

  close(): void {
    clearInterval(this.timer)
  }
}

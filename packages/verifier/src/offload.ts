/**
 * Where a signature is checked: on the event loop (`verifySync`), or on libuv's thread pool. Inline
 * is faster for one check at a time (no hand-off); under concurrent load in a server, the event loop
 * is the bottleneck and an ES256 verification is most of a fresh token's cost, so moving it to the
 * pool lets another core do it while the loop parses the next request, as Auth0's middleware and jose
 * do (in an Express API on 2 cores shared with the load generator, one noisy run: about 1.4× the
 * requests per second on fresh tokens, and less CPU per request).
 *
 * `auto` (the default) decides from the event loop's utilisation, sampled every 100 ms: above 80% the
 * loop is saturated and checks go to the pool; below 50% they come back inline (the gap keeps it from
 * flapping). A loop that never yields (a benchmark awaiting one check after another) is never sampled
 * and stays inline. On a machine with one core there is no other core to give the work to: inline.
 * Either way the check is the same (`JWTVerificationKey.verify` and `verifySync`).
 */
import { availableParallelism } from 'node:os'
import { performance, type EventLoopUtilization } from 'node:perf_hooks'

export type OffloadMode = boolean | 'auto'

const SAMPLE_MS = 100
const BUSY = 0.8
const IDLE = 0.5

export class OffloadPolicy {
  private offloading: boolean
  private readonly timer: NodeJS.Timeout | undefined

  constructor(mode: OffloadMode) {
    this.offloading = mode === true
    if (mode !== 'auto' || availableParallelism() < 2) return
    let last: EventLoopUtilization = performance.eventLoopUtilization()
    this.timer = setInterval(() => {
      const now = performance.eventLoopUtilization()
      const { utilization } = performance.eventLoopUtilization(now, last)
      last = now
      if (utilization > BUSY) this.offloading = true
      else if (utilization < IDLE) this.offloading = false
    }, SAMPLE_MS)
    this.timer.unref()
  }

  /** Whether the next check goes to the thread pool. */
  get offload(): boolean {
    return this.offloading
  }

  close(): void {
    clearInterval(this.timer)
  }
}

/**
 * Where the server computes a JWT's signature: inline on the event loop, or on libuv's thread pool.
 *
 * Handing a signature to the pool is not free: the job, a copy of the input, a wake-up of a pool
 * thread and another of the event loop when it is done cost the event loop about a quarter of the
 * signature itself, and the machine more in all. It pays only when another core is idle to do the
 * signing meanwhile: one server process on a host with cores to spare. When every core is busy (a
 * worker per core, or the load generator sharing a small machine), inline gets more tokens out of the
 * same CPU.
 *
 * So the choice follows the machine: every 250 ms the idle share of all cores is read from
 * `/proc/stat`; with at least three quarters of a core idle, signatures go to the pool, with less than
 * a quarter they stay inline (in between, no change). Where `/proc/stat` cannot be read (not Linux),
 * the pool, as before; on one core, inline. The signature is the same either way (`node:crypto`'s
 * `sign`, then the low-S form).
 */
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'

const SAMPLE_MS = 250
const POOL_ABOVE = 0.75
const INLINE_BELOW = 0.25

/** Idle and total jiffies of all cores together, from `/proc/stat`'s first line; null elsewhere. */
export function readCpuTimes(stat?: string): { idle: number; total: number } | null {
  let text = stat
  if (text === undefined) {
    try {
      text = readFileSync('/proc/stat', 'latin1')
    } catch {
      return null
    }
  }
  const line = text.slice(0, text.indexOf('\n'))
  if (!line.startsWith('cpu ')) return null
  // user nice system idle iowait irq softirq steal (guest time is inside user already)
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number)
  if (fields.length < 5 || fields.some((n) => !Number.isFinite(n))) return null
  const total = fields.reduce((a, b) => a + b, 0)
  return { idle: (fields[3] ?? 0) + (fields[4] ?? 0), total }
}

/**
 * Whether the pool should take the next signature, given the idle cores over the last sample and the
 * current choice (kept between the two thresholds).
 */
export function choosePool(idleCores: number, onPool: boolean): boolean {
  if (idleCores >= POOL_ABOVE) return true
  if (idleCores < INLINE_BELOW) return false
  return onPool
}

class SignPlacement {
  private pool: boolean
  private started = false

  constructor(private readonly cores: number) {
    this.pool = cores > 1
  }

  /** Whether to sign on the thread pool now; starts sampling on first use. */
  get onPool(): boolean {
    if (!this.started) this.start()
    return this.pool
  }

  private start(): void {
    this.started = true
    if (this.cores < 2) return
    let last = readCpuTimes()
    if (last === null) return
    const timer = setInterval(() => {
      const now = readCpuTimes()
      if (now === null || last === null) return
      const total = now.total - last.total
      if (total > 0)
        this.pool = choosePool(((now.idle - last.idle) / total) * this.cores, this.pool)
      last = now
    }, SAMPLE_MS)
    timer.unref()
  }
}

/** The process's one placement: every signer follows the same machine. */
export const signPlacement = new SignPlacement(availableParallelism())

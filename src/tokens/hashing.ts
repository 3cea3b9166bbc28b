/**
 * The one bound on this process's slow, memory-hard hashes: client secrets (scrypt, `./secrets.ts`)
 * and passwords (argon2id, `./passwords.ts`) both run through `hashing`, so together they never take
 * more than `MAX_CONCURRENT` of libuv's threads, nor queue more than `MAX_QUEUED` callers. Past that,
 * `HasherBusy` is thrown at once and the caller answers 503 with `Retry-After`.
 *
 * JWT signing (`node:crypto` `sign` with a callback) runs on the same thread pool, as do file system
 * calls: hashing is kept below the pool's size so that they always find a free thread, however many
 * hashes wait. The throttles (`server/rate_limit.ts`) bound how many hashes one address can cause;
 * this bounds how many all addresses together can have running or waiting.
 */
import { availableParallelism } from 'node:os'

/** libuv's thread pool: `UV_THREADPOOL_SIZE`, 4 unless set (it is read once, when the pool starts). */
export const THREAD_POOL_SIZE = threadPoolSize(process.env.UV_THREADPOOL_SIZE)

/**
 * Hashes running at once: at most half the pool, so signing always keeps a thread, and at most half
 * the cores, so the event loop keeps one; at least one.
 */
export const MAX_CONCURRENT = Math.max(
  1,
  Math.min(Math.floor(THREAD_POOL_SIZE / 2), Math.floor(availableParallelism() / 2)),
)
/** Callers waiting for a hash, beyond which `HasherBusy` is thrown. */
export const MAX_QUEUED = 64

function threadPoolSize(value: string | undefined): number {
  const n = Number(value)
  // libuv's own bounds: 1 to 1024, 4 when unset or invalid.
  return Number.isInteger(n) && n >= 1 ? Math.min(n, 1024) : 4
}

export class HasherBusy extends Error {
  override readonly name = 'HasherBusy'
}

/** Runs async work with at most `maxConcurrent` at once and at most `maxQueued` waiting. */
export class HashGate {
  private running = 0
  private readonly waiting: (() => void)[] = []

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueued: number,
  ) {}

  /** Runs `work` when a slot is free; throws `HasherBusy` without running it when the queue is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxConcurrent) {
      if (this.waiting.length >= this.maxQueued) throw new HasherBusy('too many hashes at once')
      // The finishing caller hands its slot over: `running` stays as it is.
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    } else {
      this.running++
    }
    try {
      return await work()
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.running--
    }
  }
}

/** The gate every scrypt and argon2 hash of this process goes through. */
export const hashing = new HashGate(MAX_CONCURRENT, MAX_QUEUED)

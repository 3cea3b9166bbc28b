/**
 * Offloaded signature checks, on one worker thread of the verifier's own (`signature_thread.ts`)
 * rather than libuv's thread pool. Each check is one message there and one answer back, sent at once:
 * the event loop pays a few microseconds a check for it, where the pool costs it a job, a wake-up and
 * a callback into JavaScript per check, and the thread keeps the curve's code and tables warm between
 * checks. (Gathering the checks of a turn of the event loop into one message was tried and served
 * fewer requests: a batch's checks all wait for its last one, while the loop idles.) In an Express
 * API on 2 cores, fresh tokens, runs minutes apart: 7–15% more requests a second than on the pool, with
 * less CPU a request.
 *
 * The canonical encoding of a signature (`JWTVerificationKey.isCanonical`) is checked here, on the
 * loop; the thread runs the same `node:crypto` call as `verifySync`, with the key's own parameters.
 * The thread starts with the first offloaded check and keeps the process alive only while checks are
 * in flight. Should it fail to start, or exit (a crash, `close`), the checks it held and every later
 * one go to libuv's pool (`JWTVerificationKey.verify`): no check is lost or answered without being
 * made.
 */
import { Worker } from 'node:worker_threads'
import type { JWTVerificationKey } from './jwt.js'
import type { ThreadAnswer, ThreadMessage } from './signature_thread.js'

interface Check {
  key: JWTVerificationKey
  input: string
  signature: Buffer
  resolve: (valid: boolean) => void
}

export class SignatureWorker {
  private worker: Worker | undefined
  /** No thread (it could not start, it exited, or `close` was called): libuv's pool. */
  private unavailable = false
  private nextCheck = 0
  private readonly inFlight = new Map<number, Check>()
  private nextKeyId = 1
  private readonly keyIds = new WeakMap<JWTVerificationKey, number>()
  /** A key the verifier no longer holds is dropped by the thread too. */
  private readonly forgotten = new FinalizationRegistry<number>((id) => {
    this.post({ type: 'drop', id })
  })

  /** Checks the thread answered (for tests). */
  answered = 0

  /** Whether `signature` is `key`'s signature of `input`; checked on the worker thread. */
  readonly verify = (
    key: JWTVerificationKey,
    input: string,
    signature: Buffer,
  ): Promise<boolean> => {
    if (!key.isCanonical(signature)) return Promise.resolve(false)
    const worker = this.started()
    if (worker === undefined) return key.verify(input, signature)
    return new Promise((resolve) => {
      const check = this.nextCheck++
      try {
        const message: ThreadMessage = {
          type: 'verify',
          check,
          key: this.keyIdOf(worker, key),
          input,
          // A copy of its own: the decoded signature is a view of a shared buffer, which a message
          // would copy whole.
          signature: new Uint8Array(signature),
        }
        worker.postMessage(message)
      } catch {
        resolve(key.verify(input, signature))
        return
      }
      if (this.inFlight.size === 0) worker.ref()
      this.inFlight.set(check, { key, input, signature, resolve })
    })
  }

  /** Stops the thread; checks in flight and later ones are made on libuv's pool. */
  close(): void {
    this.unavailable = true
    void this.worker?.terminate()
  }

  /** Ends the thread as a crash would (tests only): its checks must still be answered. */
  crashForTest(): Promise<number> | undefined {
    return this.worker?.terminate()
  }

  /** The thread, started on first use; `undefined` when there is none to use. */
  private started(): Worker | undefined {
    if (this.unavailable) return undefined
    if (this.worker !== undefined) return this.worker
    let worker: Worker
    try {
      // None of the application's flags: the thread runs this package's own code only (a loader or
      // an `--eval` of the application's would fail it, or load there in vain).
      worker = new Worker(new URL('./signature_thread.js', import.meta.url), { execArgv: [] })
    } catch {
      this.unavailable = true
      return undefined
    }
    worker.unref()
    worker.on('message', (answer: ThreadAnswer) => {
      const check = this.inFlight.get(answer.check)
      if (check === undefined) return
      this.inFlight.delete(answer.check)
      if (this.inFlight.size === 0) worker.unref()
      this.answered++
      check.resolve(answer.valid)
    })
    // An error in the thread ends it: 'exit' follows, and its checks go to the pool there.
    worker.on('error', () => {})
    worker.on('exit', () => {
      this.unavailable = true
      this.worker = undefined
      const lost = [...this.inFlight.values()]
      this.inFlight.clear()
      for (const c of lost) void c.key.verify(c.input, c.signature).then(c.resolve)
    })
    this.worker = worker
    return worker
  }

  private keyIdOf(worker: Worker, key: JWTVerificationKey): number {
    let id = this.keyIds.get(key)
    if (id === undefined) {
      id = this.nextKeyId++
      const message: ThreadMessage = { type: 'key', id, ...key.params }
      // Known as sent only once it is: the thread must never be asked about a key it lacks.
      worker.postMessage(message)
      this.keyIds.set(key, id)
      this.forgotten.register(key, id)
    }
    return id
  }

  private post(message: ThreadMessage): void {
    try {
      this.worker?.postMessage(message)
    } catch {
      // The thread is gone: nothing to tell it.
    }
  }
}

/**
 * Worker threads that open the same SQLite file: separate connections, locking as separate processes
 * do. Each worker waits at a shared barrier, so their work starts at the same moment.
 */

import { Worker } from 'node:worker_threads'
import type { Store } from '../../src/store/types.js'

const moduleUrl = new URL('../../src/store/sqlite/index.js', import.meta.url).href

/**
 * Starts one worker per `index` on `source`, and resolves with the message each posts. `atArrival`
 * runs on this thread once every worker has added itself to `arrived`.
 */
async function runWorkers(
  source: string,
  count: number,
  data: Record<string, unknown>,
  atArrival?: () => void,
): Promise<unknown[]> {
  const arrived = new Int32Array(new SharedArrayBuffer(4))
  if (atArrival) void waitForArrivals(arrived, count).then(atArrival)
  const workers = Array.from(
    { length: count },
    (_, index) =>
      new Worker(source, {
        eval: true,
        workerData: { ...data, moduleUrl, arrived, count, index },
      }),
  )
  try {
    return await Promise.all(
      workers.map(
        (worker) =>
          new Promise<unknown>((resolve, reject) => {
            worker.once('message', resolve)
            worker.once('error', reject)
            worker.once('exit', (code) => reject(new Error(`worker exited with ${code}`)))
          }),
      ),
    )
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()))
  }
}

/** Resolves once `count` workers have added themselves to `arrived`, without blocking this thread. */
async function waitForArrivals(arrived: Int32Array, count: number): Promise<void> {
  while (Atomics.load(arrived, 0) < count) await new Promise((resolve) => setTimeout(resolve, 2))
}

// The barrier gives up after 10 s, so a worker that dies before reaching it cannot hang the others.
const BARRIER = `
  const deadline = Date.now() + 10000
  Atomics.add(arrived, 0, 1)
  while (Atomics.load(arrived, 0) < count && Date.now() < deadline) {
    Atomics.wait(arrived, 0, Atomics.load(arrived, 0), 5)
  }`

/** Opens and closes a store at `path` from `count` workers at once, so that their migrations race. */
export async function openConcurrently(path: string, count: number): Promise<void> {
  const source = `
    const { workerData, parentPort } = require('node:worker_threads')
    const { moduleUrl, path, arrived, count } = workerData
    import(moduleUrl).then(async ({ createSqliteStore }) => {
      ${BARRIER}
      const store = createSqliteStore(path)
      await store.close()
      parentPort.postMessage('opened')
    })`
  await runWorkers(source, count, { path })
}

/**
 * Calls `store[method](...args)` on the store at `path` from `count` workers at once (each opened
 * before the barrier). `{i}` in a string inside `args` becomes the worker's index. Resolves with each
 * worker's result.
 */
export async function raceInWorkers(
  path: string,
  count: number,
  method: keyof Store,
  args: unknown[],
): Promise<unknown[]> {
  const source = `
    const { workerData, parentPort } = require('node:worker_threads')
    const { moduleUrl, path, arrived, count, method, args, index } = workerData
    const own = JSON.parse(JSON.stringify(args).replaceAll('{i}', String(index)))
    import(moduleUrl).then(async ({ createSqliteStore }) => {
      const store = createSqliteStore(path, { busyTimeoutMs: 10000 })
      ${BARRIER}
      const result = await store[method](...own)
      await store.close()
      parentPort.postMessage(result)
    })`
  return runWorkers(source, count, { path, method, args })
}

/**
 * Opens a store at `path` from a worker and resolves with 'opened' or the error's message. Once the
 * worker is about to open, `atOpen` runs on this thread (say, to release a lock after a while): this
 * thread stays free, while the worker blocks in the synchronous open.
 */
export async function openInWorker(
  path: string,
  options: { busyTimeoutMs: number },
  atOpen: () => void,
): Promise<unknown> {
  const source = `
    const { workerData, parentPort } = require('node:worker_threads')
    const { moduleUrl, path, arrived, options } = workerData
    import(moduleUrl).then(async ({ createSqliteStore }) => {
      Atomics.add(arrived, 0, 1)
      try {
        await createSqliteStore(path, options).close()
        parentPort.postMessage('opened')
      } catch (error) {
        parentPort.postMessage(error.message)
      }
    })`
  const [result] = await runWorkers(source, 1, { path, options }, atOpen)
  return result
}

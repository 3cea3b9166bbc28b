import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HashGate, HasherBusy, MAX_CONCURRENT, THREAD_POOL_SIZE } from './hashing.js'

/** A task that finishes when `finish()` is called, recording how many ran at once. */
function gatedTasks() {
  let running = 0
  let peak = 0
  const finishers: (() => void)[] = []
  const task = (): Promise<number> => {
    running++
    peak = Math.max(peak, running)
    return new Promise((resolve) =>
      finishers.push(() => {
        running--
        resolve(peak)
      }),
    )
  }
  const finishAll = async (): Promise<void> => {
    while (finishers.length > 0 || running > 0) {
      finishers.splice(0).forEach((f) => f())
      await new Promise((r) => setImmediate(r))
    }
  }
  return { task, finishAll, peak: () => peak, started: () => finishers.length }
}

describe('HashGate', () => {
  it('runs at most its concurrency at once and the queued ones after', async () => {
    const gate = new HashGate(2, 10)
    const t = gatedTasks()
    const all = Promise.all(Array.from({ length: 8 }, () => gate.run(t.task)))
    await new Promise((r) => setImmediate(r))
    assert.equal(t.started(), 2)
    await t.finishAll()
    await all
    assert.equal(t.peak(), 2)
  })

  it('refuses at once with HasherBusy past its queue, without running the work', async () => {
    const gate = new HashGate(1, 2)
    const t = gatedTasks()
    const admitted = [gate.run(t.task), gate.run(t.task), gate.run(t.task)]
    let ran = false
    await assert.rejects(
      gate.run(() => {
        ran = true
        return Promise.resolve(0)
      }),
      HasherBusy,
    )
    assert.equal(ran, false)
    await t.finishAll()
    await Promise.all(admitted)
    // Free again once the queue drained.
    assert.equal(await gate.run(() => Promise.resolve(7)), 7)
  })

  it('frees its slot when the work throws', async () => {
    const gate = new HashGate(1, 0)
    await assert.rejects(
      gate.run(() => Promise.reject(new Error('boom'))),
      /boom/,
    )
    assert.equal(await gate.run(() => Promise.resolve(1)), 1)
  })

  it('leaves libuv threads free for signing', () => {
    assert.ok((MAX_CONCURRENT >= 1 && MAX_CONCURRENT < THREAD_POOL_SIZE) || THREAD_POOL_SIZE === 1)
  })
})

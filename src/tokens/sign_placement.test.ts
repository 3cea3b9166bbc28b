import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { choosePool, readCpuTimes } from './sign_placement.js'

describe('where signatures are computed', () => {
  it("reads all cores' idle and total time from /proc/stat's first line", () => {
    const stat = 'cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 50 2 25 400 10 0 1 1 0 0\n'
    assert.deepEqual(readCpuTimes(stat), { idle: 820, total: 981 })
    assert.equal(readCpuTimes('intr 1 2 3\n'), null)
    assert.equal(readCpuTimes('cpu  a b c d e\n'), null)
  })

  it('signs on the pool with a core idle, inline with none, and keeps its choice in between', () => {
    assert.equal(choosePool(1.2, false), true)
    assert.equal(choosePool(0.75, false), true)
    assert.equal(choosePool(0.1, true), false)
    assert.equal(choosePool(0.5, true), true)
    assert.equal(choosePool(0.5, false), false)
  })
})

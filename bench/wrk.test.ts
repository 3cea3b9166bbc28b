import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { reapedChildrenCpuSeconds } from './harness.js'
import { cycleScript, findWrk, fixedScript, luaString, parseWrkSummary, runWrk } from './wrk.js'

describe('wrk summary line', () => {
  it('reads the JSON line done() prints after wrk’s own text', () => {
    const stdout = [
      'Running 1s test @ http://127.0.0.1:8080/',
      '  1 threads and 4 connections',
      '  22232 requests in 1.00s, 3.37MB read',
      'Requests/sec:  22133.20',
      '{"wrkSummary":{"requests":22232,"durationMicros":1004464,"errors":{"connect":0,"read":1,' +
        '"write":0,"status":7,"timeout":2},"latencyMicros":{"mean":729.6,"max":17693,"p50":71,' +
        '"p90":2229,"p99":10138}}}',
      '',
    ].join('\n')
    assert.deepEqual(parseWrkSummary(stdout), {
      requests: 22232,
      durationMicros: 1004464,
      errors: { connect: 0, read: 1, write: 0, status: 7, timeout: 2 },
      latencyMicros: { mean: 729.6, max: 17693, p50: 71, p90: 2229, p99: 10138 },
    })
  })

  it('refuses an output without a summary (wrk failed before done())', () => {
    assert.throws(() => parseWrkSummary('unable to connect to 127.0.0.1:1 Connection refused\n'))
  })

  it('quotes any text as a Lua string literal, bytes outside printable ASCII escaped', () => {
    assert.equal(luaString('a"b\\c\nd é'), '"a\\034b\\092c\\010d \\195\\169"')
  })
})

describe('wrk against a local server', { skip: findWrk() === null && 'wrk is not on PATH' }, () => {
  let server: Server
  let url = ''
  const seen = { bodies: new Set<string>(), authorizations: new Set<string>() }
  let folder = ''

  before(async () => {
    folder = mkdtempSync(join(tmpdir(), 'latchkey-wrk-test-'))
    server = createServer((request, response) => {
      let body = ''
      request.on('data', (chunk: Buffer) => (body += chunk.toString()))
      request.on('end', () => {
        seen.bodies.add(`${request.method} ${body}`)
        seen.authorizations.add(request.headers.authorization ?? '')
        response.writeHead(request.headers.authorization === 'refused' ? 401 : 200, {
          'content-type': 'application/json',
        })
        response.end('{"ok":true}')
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    if (typeof address !== 'object' || address === null) throw new Error('no address')
    url = `http://127.0.0.1:${address.port}/api`
  })

  after(() => {
    server.close()
    rmSync(folder, { recursive: true, force: true })
  })

  it('sends the fixed request for a second and reports sane totals and percentiles', async () => {
    const script = join(folder, 'fixed.lua')
    writeFileSync(
      script,
      fixedScript({ method: 'POST', headers: { authorization: 'Basic x' }, body: 'token=é' }),
    )
    const childrenBefore = reapedChildrenCpuSeconds()
    const summary = await runWrk(url, 4, 1, script)
    const childrenAfter = reapedChildrenCpuSeconds()
    if (childrenBefore !== null && childrenAfter !== null)
      assert.ok(childrenAfter > childrenBefore, 'wrk’s CPU shows in the reaped children’s time')
    assert.ok(summary.requests > 100, `only ${summary.requests} requests`)
    assert.ok(summary.durationMicros >= 900_000 && summary.durationMicros < 3_000_000)
    assert.deepEqual(summary.errors, { connect: 0, read: 0, write: 0, status: 0, timeout: 0 })
    const { p50, p90, p99, max } = summary.latencyMicros
    assert.ok(p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= max)
    assert.deepEqual([...seen.bodies], ['POST token=é'])
  })

  it('sends a cycle of header values, and counts refused answers as status errors', async () => {
    const values = join(folder, 'values.txt')
    writeFileSync(values, 'Bearer a\nBearer b\nrefused\n')
    const script = join(folder, 'cycle.lua')
    writeFileSync(script, cycleScript('authorization', values))
    const summary = await runWrk(url, 3, 1, script)
    assert.ok(['Bearer a', 'Bearer b', 'refused'].every((v) => seen.authorizations.has(v)))
    const third = summary.requests / 3
    assert.ok(
      Math.abs(summary.errors.status - third) <= 3,
      `${summary.errors.status} of ${summary.requests}`,
    )
  })
})

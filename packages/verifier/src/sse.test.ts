import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SSEParser } from './sse.js'

describe('SSE parser', () => {
  it('parses events with ids, names and multi-line data, and skips comments', () => {
    const p = new SSEParser()
    const out = p.push(
      'retry: 1000\n\n: heartbeat\n\nid: 7\ndata: {"a":1}\n\nevent: ready\ndata: x\ndata: y\n\n',
    )
    assert.equal(p.retry, 1000)
    assert.deepEqual(out, [
      { event: 'message', data: '{"a":1}', id: '7' },
      { event: 'ready', data: 'x\ny', id: undefined },
    ])
  })

  it('joins lines split across chunks, with CRLF, CR and LF endings, and drops a leading BOM', () => {
    const p = new SSEParser()
    const text = '\ufeffid: 1\r\ndata: a\r\n\r\nid: 2\rdata: b\r\rdata: c\n\n'
    const out = []
    for (const ch of text) out.push(...p.push(ch))
    assert.deepEqual(out, [
      { event: 'message', data: 'a', id: '1' },
      { event: 'message', data: 'b', id: '2' },
      { event: 'message', data: 'c', id: undefined },
    ])
  })

  it('dispatches nothing for an event without data, nor for an unfinished one', () => {
    const p = new SSEParser()
    assert.deepEqual(p.push('event: reload\n\nid: 3\ndata: half'), [])
    assert.deepEqual(p.push('\n\n'), [{ event: 'message', data: 'half', id: '3' }])
  })
})

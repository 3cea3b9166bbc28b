/**
 * Property-based tests of the feed client's SSE parser and event reading: any text, cut anywhere,
 * gives the same events as in one piece and never throws; events written as the server writes them
 * come back unchanged; and any JSON in an event's data is read as a feed event or ignored, never
 * thrown on, also when applied to the revocation set.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from './testing/fuzz.js'
import { parseFeedEvent, RevocationSet } from './revocation_set.js'
import { SSEParser, type SSEMessage } from './sse.js'

const streamish = fc.oneof(
  fc
    .array(
      fc.oneof(
        fc.constantFrom(
          '\n',
          '\r',
          '\r\n',
          ':',
          ': ',
          'data',
          'data:',
          'event:',
          'id:',
          'retry:',
          ' ',
          '\ufeff',
          '\0',
          '7',
        ),
        fc.string({ maxLength: 5 }),
      ),
      { maxLength: 40 },
    )
    .map((p) => p.join('')),
  fc.string({ unit: 'binary' }),
)

/** Cuts `text` at the given points (taken modulo its length). */
function cut(text: string, points: number[]): string[] {
  const at = [...new Set(points.map((p) => (text.length === 0 ? 0 : p % (text.length + 1))))].sort(
    (a, b) => a - b,
  )
  const pieces: string[] = []
  let from = 0
  for (const p of at) {
    pieces.push(text.slice(from, p))
    from = p
  }
  pieces.push(text.slice(from))
  return pieces
}

const line = fc.string({ maxLength: 10 }).filter((s) => !/[\r\n]/.test(s))

describe('SSE parser properties', () => {
  it('gives the same events and retry for any text whether fed whole or cut anywhere', () => {
    fc.assert(
      fc.property(streamish, fc.array(fc.nat(), { maxLength: 8 }), (text, points) => {
        const whole = new SSEParser()
        const expected = whole.push(text)
        const pieces = new SSEParser()
        const got: SSEMessage[] = []
        for (const piece of cut(text, points)) got.push(...pieces.push(piece))
        assert.deepEqual(got, expected)
        assert.equal(pieces.retry, whole.retry)
      }),
      fuzzParameters(),
    )
  })

  it('reads back events written with any line ending', () => {
    const event = fc.record({
      event: line.filter((s) => s !== '' && !s.startsWith(' ')),
      data: fc.array(line, { minLength: 1, maxLength: 3 }),
      id: fc.option(
        line.filter((s) => !s.includes('\0')),
        { nil: undefined },
      ),
    })
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 5 }),
        fc.constantFrom('\n', '\r\n', '\r'),
        (events, eol) => {
          const text = events
            .map(
              (e) =>
                `event: ${e.event}${eol}` +
                (e.id === undefined ? '' : `id: ${e.id}${eol}`) +
                e.data.map((d) => `data: ${d}${eol}`).join('') +
                `: heartbeat${eol}${eol}`,
            )
            .join('')
          const parser = new SSEParser()
          // A CR at the very end may be half a CRLF: the parser waits for the next byte to tell.
          const got = [...parser.push(text), ...parser.push(':\n')]
          assert.deepEqual(
            got,
            events.map((e) => ({ event: e.event, data: e.data.join('\n'), id: e.id })),
          )
        },
      ),
      fuzzParameters(),
    )
  })

  it('reads any JSON as a feed event or ignores it, and the revocation set takes what it reads', () => {
    const eventish = fc.record(
      {
        seq: fc.oneof(fc.integer(), fc.double(), fc.string()),
        kind: fc.constantFrom('jti', 'token', 'sid', 'sub', 'client', 'kid', 'other', ''),
        value: fc.oneof(fc.string(), fc.integer()),
        client_id: fc.oneof(fc.string(), fc.constant(null), fc.integer()),
        created_at: fc.oneof(fc.integer(), fc.double(), fc.string()),
        expires_at: fc.oneof(fc.integer(), fc.double(), fc.constant(null)),
      },
      { requiredKeys: [] },
    )
    fc.assert(
      fc.property(fc.array(fc.oneof(eventish, fc.jsonValue()), { maxLength: 10 }), (values) => {
        const set = new RevocationSet()
        for (const value of values) {
          const event = parseFeedEvent(value)
          if (event === null) continue
          set.add(event)
          set.covers({
            sub: event.value,
            client_id: event.value,
            iat: 0,
            jti: event.value,
            sid: event.value,
          })
        }
        set.prune(NaN)
        set.prune(Date.now() / 1000)
      }),
      fuzzParameters(),
    )
  })
})

/**
 * An incremental parser for `text/event-stream` (WHATWG HTML §9.2.6), enough for the revocation feed:
 * `event`, `data`, `id` and comments; `retry` is read and left to the caller. Lines may end in CRLF,
 * LF or CR, split anywhere across chunks.
 */

export interface SSEMessage {
  /** `message` when the event named none. */
  event: string
  data: string
  /** The `id` field of this event, if it had one. */
  id: string | undefined
}

export class SSEParser {
  private buffer = ''
  private started = false
  private event = ''
  private data: string[] = []
  private id: string | undefined
  /** The last `retry:` value, in milliseconds. */
  retry: number | undefined

  /** Feeds decoded text; returns the events it completed. */
  push(text: string): SSEMessage[] {
    let input = this.buffer + text
    if (!this.started && input.length > 0) {
      this.started = true
      if (input.charCodeAt(0) === 0xfeff) input = input.slice(1)
    }
    const out: SSEMessage[] = []
    let start = 0
    for (let i = 0; i < input.length; i++) {
      const c = input.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      // A CR as the very last character may be the first half of a CRLF: wait for more.
      if (c === 13 && i === input.length - 1) break
      this.line(input.slice(start, i), out)
      if (c === 13 && input.charCodeAt(i + 1) === 10) i++
      start = i + 1
    }
    this.buffer = input.slice(start)
    return out
  }

  private line(line: string, out: SSEMessage[]): void {
    if (line === '') {
      if (this.data.length > 0) {
        out.push({ event: this.event || 'message', data: this.data.join('\n'), id: this.id })
      }
      this.event = ''
      this.data = []
      this.id = undefined
      return
    }
    if (line.charCodeAt(0) === 58) return // ':' a comment, such as a heartbeat
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    switch (field) {
      case 'event':
        this.event = value
        break
      case 'data':
        this.data.push(value)
        break
      case 'id':
        if (!value.includes('\0')) this.id = value
        break
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retry = Number(value)
        break
    }
  }
}

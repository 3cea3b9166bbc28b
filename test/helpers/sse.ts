/**
 * A feed reader for tests: opens `GET /revocations` as a stream and collects what it parses, so a
 * test can wait for a given event.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http'
import { SSEParser, type SSEMessage } from '@latchkey/verifier/revocation'

export interface OpenStream {
  status: number
  headers: IncomingMessage['headers']
  /** Every message so far, in order. */
  messages: SSEMessage[]
  /** Everything received, comments included. */
  raw(): string
  /** Resolves with the first message after `from` (an index into `messages`) matching `match`. */
  waitFor(match: (m: SSEMessage) => boolean, timeoutMs?: number, from?: number): Promise<SSEMessage>
  /** Resolves once `text` appears in the raw stream. */
  waitForText(text: string, timeoutMs?: number): Promise<void>
  /** Resolves when the server ends the stream. */
  ended: Promise<void>
  close(): void
}

export function openStream(url: string, headers: Record<string, string>): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const messages: SSEMessage[] = []
    let raw = ''
    const waiters = new Set<() => void>()
    const wakeAll = (): void => {
      for (const w of [...waiters]) w()
    }
    const waitUntil = (test: () => boolean, timeoutMs: number, what: string): Promise<void> =>
      new Promise((res, rej) => {
        if (test()) return res()
        const timer = setTimeout(() => {
          waiters.delete(check)
          rej(new Error(`timed out waiting for ${what}; got: ${raw.slice(-500)}`))
        }, timeoutMs)
        function check(): void {
          if (!test()) return
          clearTimeout(timer)
          waiters.delete(check)
          res()
        }
        waiters.add(check)
      })
    const req: ClientRequest = httpRequest(url, { headers, agent: false }, (res) => {
      const parser = new SSEParser()
      let endedResolve!: () => void
      const ended = new Promise<void>((r) => (endedResolve = r))
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        raw += chunk
        messages.push(...parser.push(chunk))
        wakeAll()
      })
      res.on('end', endedResolve)
      res.on('close', endedResolve)
      res.on('error', endedResolve)
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        messages,
        raw: () => raw,
        async waitFor(match, timeoutMs = 5000, from = 0) {
          let found: SSEMessage | undefined
          await waitUntil(
            () => (found = messages.slice(from).find(match)) !== undefined,
            timeoutMs,
            'an SSE message',
          )
          return found!
        },
        waitForText: (text, timeoutMs = 5000) =>
          waitUntil(() => raw.includes(text), timeoutMs, JSON.stringify(text)),
        ended,
        close: () => req.destroy(),
      })
    })
    req.on('error', reject)
    req.end()
  })
}

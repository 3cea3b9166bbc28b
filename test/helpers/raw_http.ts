/**
 * HTTP/1.1 written byte for byte on a socket (node:net): for requests a client library will not send,
 * such as a header given twice in one request, or framing the server must refuse.
 */
import { connect } from 'node:net'

export interface RawResponse {
  status: number
  /** Header names lower-cased; a repeated header keeps its last value. */
  headers: Record<string, string>
  text: string
  /** `text` parsed as JSON, when it is. */
  json: Record<string, unknown> | undefined
}

/**
 * Sends `head` (the request line and header lines, without the blank line) and `body` to the server
 * at `url`, with `Connection: close`, and reads the answer until the server closes. A request the
 * server cuts off before answering resolves with status 0.
 */
export function rawRequest(
  url: string,
  head: string[],
  body: string | Buffer = '',
  timeoutMs = 10_000,
): Promise<RawResponse> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) })
    const chunks: Buffer[] = []
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('raw request timed out')))
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') resolve(parse(Buffer.concat(chunks)))
      else reject(err)
    })
    socket.on('end', () => resolve(parse(Buffer.concat(chunks))))
    socket.write(
      Buffer.concat([
        Buffer.from([...head, 'Connection: close', '', ''].join('\r\n')),
        Buffer.from(body),
      ]),
    )
  })
}

function parse(bytes: Buffer): RawResponse {
  const text = bytes.toString('latin1')
  const end = text.indexOf('\r\n\r\n')
  if (end < 0) return { status: 0, headers: {}, text: '', json: undefined }
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0)
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  let bodyBytes = bytes.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'))
  if (headers['transfer-encoding'] === 'chunked') bodyBytes = dechunk(bodyBytes)
  const bodyText = bodyBytes.toString('utf8')
  let json: Record<string, unknown> | undefined
  try {
    json = JSON.parse(bodyText) as Record<string, unknown>
  } catch {
    json = undefined
  }
  return { status, headers, text: bodyText, json }
}

function dechunk(bytes: Buffer): Buffer {
  const out: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at)
    if (lineEnd < 0) break
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16)
    if (!(size > 0)) break
    out.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(out)
}

/**
 * Rendering errors as HTTP responses: one function for `OAuthError`, and one handler that maps
 * everything else (framework errors, store outages, bugs) to the right RFC error without leaking detail.
 */
import type { Socket } from 'node:net'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { OAuthError, StoreUnavailableError } from '../errors.js'

/** Sends `err` as RFC 6749 §5.2 JSON with `Cache-Control: no-store` (and `nosniff`, as every answer). */
export function sendOAuthError(reply: FastifyReply, err: OAuthError): FastifyReply {
  reply
    .code(err.status)
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .header('x-content-type-options', 'nosniff')
  if (err.code === 'invalid_client' && err.status === 401) {
    // RFC 6749 §5.2: a 401 names the authentication scheme the client may use.
    reply.header('www-authenticate', 'Basic realm="latchkey", charset="UTF-8"')
  }
  if (err.retryAfter !== undefined) reply.header('retry-after', String(err.retryAfter))
  return reply.send({ error: err.code, error_description: err.description })
}

/** What a framework error means on the wire. */
function fromFrameworkError(err: FastifyError): OAuthError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new OAuthError('invalid_request', 'request body is too large', { status: 413 })
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      // RFC 6749 §3.2: the token endpoint takes application/x-www-form-urlencoded.
      return new OAuthError(
        'invalid_request',
        'request body must be application/x-www-form-urlencoded',
      )
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new OAuthError('invalid_request', 'malformed request body')
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new OAuthError('invalid_request', 'malformed request', { status: err.statusCode })
  }
  return undefined
}

/** Fastify error handler: every error leaves as an RFC error body; only real faults are logged loud. */
export function handleError(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (error instanceof OAuthError) {
    if (error.status >= 500) request.log.error({ err: error.cause ?? error }, error.description)
    return sendOAuthError(reply, error)
  }
  if (error instanceof StoreUnavailableError) {
    request.log.error({ err: error }, 'store unavailable')
    return sendOAuthError(
      reply,
      new OAuthError('temporarily_unavailable', 'the service is temporarily unavailable', {
        retryAfter: 1,
      }),
    )
  }
  const mapped = fromFrameworkError(error as FastifyError)
  if (mapped) return sendOAuthError(reply, mapped)
  request.log.error({ err: error }, 'unhandled error')
  return sendOAuthError(reply, new OAuthError('server_error', 'internal error'))
}

/**
 * Requests Node's HTTP parser rejects before Fastify sees them (oversized headers, malformed framing,
 * timeouts) still get an RFC 6749 error body, written straight to the socket.
 */
export function handleClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [status, text] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout']
        : [400, 'Bad Request']
  const body = JSON.stringify({ error: 'invalid_request', error_description: text.toLowerCase() })
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Cache-Control: no-store\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy()
}

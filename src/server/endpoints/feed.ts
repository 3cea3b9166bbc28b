/**
 * The revocation feed, as named steps: authenticate the caller (HTTP Basic, a `--resource-server`
 * client), read its position, answer. With `?after=SEQ` the answer is one JSON page
 * `{ events, next, reload, more }`; without, a Server-Sent Events stream that resumes after the
 * `Last-Event-ID` it is sent (see `../feed_stream.ts`). A position below what the store has pruned
 * cannot be resumed: the reader is told to reload (`reload: true`, or an SSE `reload` event), and is
 * sent every live event from the start.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { OAuthError } from '../../errors.js'
import type { RevocationEvent, RevocationStore } from '../../store/types.js'
import { authenticateClient } from '../client_auth/index.js'
import type { ServerContext } from '../context.js'
import { toWire } from '../../store/revocation_wire.js'
import { FeedStreams } from '../feed_stream.js'
import { parseQuery } from '../form.js'

export const FEED_PATH = '/revocations'

/** Events per JSON page, and the default page size. */
const FEED_PAGE_LIMIT = 1000

const SEQ = /^(0|[1-9][0-9]{0,15})$/

function parseSeq(value: string, name: string): number {
  const n = SEQ.test(value) ? Number(value) : NaN
  if (!Number.isSafeInteger(n)) {
    throw new OAuthError('invalid_request', `${name} must be a non-negative integer`)
  }
  return n
}

/** Every event from the start, page by page: what a reader that must reload is sent. */
async function readAll(store: RevocationStore): Promise<RevocationEvent[]> {
  const all: RevocationEvent[] = []
  let cursor = 0
  for (;;) {
    const page = await store.listRevocations(cursor, FEED_PAGE_LIMIT)
    all.push(...page)
    if (page.length < FEED_PAGE_LIMIT) return all
    cursor = page[page.length - 1]!.seq
  }
}

const BASIC_ONLY =
  'the revocation feed takes HTTP Basic only, from a resource server with a secret; ' +
  'a private_key_jwt client cannot read it'

/** Authenticates the caller and checks it may read the feed. */
async function authenticateReader(request: FastifyRequest, ctx: ServerContext): Promise<void> {
  // A GET has no body: only HTTP Basic (RFC 6749 §2.3.1) can carry the credentials. A client
  // assertion (private_key_jwt) has nowhere to go, and does not belong in a URL that gets logged.
  const url = request.raw.url ?? ''
  const mark = url.indexOf('?')
  const { params } = parseQuery(mark < 0 ? '' : url.slice(mark + 1))
  if (params.client_assertion !== undefined || params.client_assertion_type !== undefined) {
    throw new OAuthError('invalid_client', BASIC_ONLY)
  }
  if (request.headers.authorization === undefined) {
    throw new OAuthError('invalid_client', `client authentication is required: ${BASIC_ONLY}`)
  }
  const { client } = await authenticateClient(request, {}, ctx)
  if (!client.resourceServer) {
    throw new OAuthError('unauthorized_client', 'this client may not read the revocation feed', {
      status: 403,
    })
  }
}

export function registerFeedEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  const streams = new FeedStreams(ctx.feed, {
    heartbeatMs: ctx.config.feedHeartbeatMs,
    maxStreams: ctx.config.feedMaxSubscribers,
  })
  // Open streams would keep `app.close()` waiting for ever: end them first.
  app.addHook('preClose', (done) => {
    streams.dispose()
    done()
  })

  app.get(FEED_PATH, { exposeHeadRoute: false }, async (request, reply) => {
    await authenticateReader(request, ctx)
    const url = request.raw.url ?? ''
    const mark = url.indexOf('?')
    const { params, repeated } = parseQuery(mark < 0 ? '' : url.slice(mark + 1))
    if (repeated.size > 0) throw new OAuthError('invalid_request', 'a parameter is repeated')
    const { store } = ctx

    if (params.after !== undefined) {
      const after = parseSeq(params.after, 'after')
      const limit = params.limit === undefined ? FEED_PAGE_LIMIT : parseSeq(params.limit, 'limit')
      if (limit < 1 || limit > FEED_PAGE_LIMIT) {
        throw new OAuthError('invalid_request', `limit must be from 1 to ${FEED_PAGE_LIMIT}`)
      }
      const prunedThrough = await store.prunedThrough()
      reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff')
      if (after < prunedThrough) {
        const events = await readAll(store)
        const last = events.length > 0 ? events[events.length - 1]!.seq : 0
        return {
          events: events.map(toWire),
          next: Math.max(last, prunedThrough),
          reload: true,
          more: false,
        }
      }
      const events = await store.listRevocations(after, limit)
      return {
        events: events.map(toWire),
        next: events.length > 0 ? events[events.length - 1]!.seq : after,
        reload: false,
        more: events.length === limit,
      }
    }

    const lastEventId = request.headers['last-event-id']
    if (Array.isArray(lastEventId)) {
      throw new OAuthError('invalid_request', 'Last-Event-ID is repeated')
    }
    const cursor = lastEventId === undefined ? 0 : parseSeq(lastEventId.trim(), 'Last-Event-ID')
    if (streams.full) {
      throw new OAuthError('temporarily_unavailable', 'too many feed streams; retry later', {
        retryAfter: 5,
      })
    }
    // Registered before reading, so that nothing written meanwhile falls between catch-up and live.
    const stream = streams.open(reply.raw, cursor)
    let catchUp: RevocationEvent[]
    let reload: { prunedThrough: number } | null = null
    try {
      const prunedThrough = await store.prunedThrough()
      if (cursor < prunedThrough) {
        reload = { prunedThrough }
        catchUp = await readAll(store)
      } else {
        catchUp = []
        for (let at = cursor; ;) {
          const page = await store.listRevocations(at, FEED_PAGE_LIMIT)
          catchUp.push(...page)
          if (page.length < FEED_PAGE_LIMIT) break
          at = page[page.length - 1]!.seq
        }
      }
    } catch (err) {
      stream.discard()
      throw err
    }
    // From here the response is ours to write, for as long as the reader stays.
    reply.hijack()
    stream.start(catchUp, reload)
  })
}

/**
 * Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a session ends, for whatever
 * reason (logout, `latchkey session revoke`, `user delete`, refresh-token reuse, a replayed code, on
 * this node, another one or the CLI), its client, when registered with a back-channel logout URI, gets a logout token
 * POSTed to it (§2.5: `application/x-www-form-urlencoded`, `logout_token=JWT`).
 *
 * Driven by the revocation feed, which every server follows: each `sid` event is a session that
 * ended. Of the nodes that read an event, the one whose `useOnce('backchannel_logout', seq)` claim
 * wins delivers it, so a cluster sends each logout token once. Nothing here blocks the feed or a
 * request: each event is handled on its own promise, at most `maxQueued` at once (more are dropped and
 * counted). A POST times out after `timeoutMs`; a network error or a 5xx is retried with exponential
 * backoff, `attempts` tries in all; a 2xx is delivered, anything else refused (§2.8: a receiver that
 * could not log out answers 400, which another try would not change). Redirects are not followed.
 *
 * The token (§2.4): header `typ` `logout+jwt`; claims `iss`, `aud` (the client), `iat`, `exp`
 * (`tokenSeconds` later), `jti`, `sub`, `sid`, `events` with the back-channel logout event, never
 * `nonce`.
 *
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { ClientRecord, RevocationEvent, SessionRecord, Store } from '../store/types.js'
import type { KeyRing } from '../tokens/key_ring.js'
import type { ClientCache } from './client_cache.js'
import type { BackchannelMetrics } from './metrics.js'
import type { FollowerListener } from './revocation_follower.js'

/** §2.4: the event that makes a JWT a logout token. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

/** The `useOnce` namespace of the claims on events: one node delivers each. */
const CLAIM_KIND = 'backchannel_logout'

export interface BackchannelOptions {
  /** How long one POST may take, ms. */
  timeoutMs: number
  /** Tries in all for one token (network errors and 5xx are tried again). */
  attempts: number
  /** Wait before the second try, ms; doubled before each further one. */
  backoffMs: number
  /** Events being handled at once; beyond, events are dropped (and counted). */
  maxQueued: number
  /** Lifetime of a logout token, seconds. */
  tokenSeconds: number
}

export const DEFAULT_BACKCHANNEL_OPTIONS: BackchannelOptions = {
  timeoutMs: 5000,
  attempts: 5,
  // Tries at about 0, 1, 3, 7 and 15 s (plus the time each takes): within a minute.
  backoffMs: 1000,
  maxQueued: 1000,
  tokenSeconds: 120,
}

export interface BackchannelDeps {
  store: Store
  clients: ClientCache
  keys: KeyRing
  issuer: string
  metrics: BackchannelMetrics
  logger: Logger
  /** Seconds since the epoch. */
  clock: () => number
}

type PostResult = 'delivered' | 'retry' | 'refused'

export class BackchannelLogout implements FollowerListener {
  private queued = 0
  private stopped = false
  private readonly tasks = new Set<Promise<void>>()
  /** Ends the waits between tries and the POSTs under way, at `stop()`. */
  private readonly stopping = new AbortController()

  constructor(
    private readonly deps: BackchannelDeps,
    private readonly options: BackchannelOptions = DEFAULT_BACKCHANNEL_OPTIONS,
  ) {}

  /** From the revocation follower: never waits, never throws. */
  onEvents(events: readonly RevocationEvent[]): void {
    for (const event of events) {
      if (event.kind !== 'sid' || event.clientId === null || this.stopped) continue
      if (this.queued >= this.options.maxQueued) {
        this.deps.metrics.record('dropped')
        this.deps.logger.warn({ seq: event.seq }, 'back-channel logout: queue full, event dropped')
        continue
      }
      this.queued++
      const task: Promise<void> = this.handle(event, event.clientId)
        .catch((err: unknown) => {
          this.deps.metrics.record('failed')
          this.deps.logger.error({ err, seq: event.seq }, 'back-channel logout failed')
        })
        .finally(() => {
          this.queued--
          this.tasks.delete(task)
        })
      this.tasks.add(task)
    }
  }

  onError(): void {}

  /** Resolves once every event handed over so far has been delivered, refused or given up. */
  async settled(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks])
  }

  /** Stops: no new deliveries, waits and POSTs under way are cut short. */
  async stop(): Promise<void> {
    this.stopped = true
    this.stopping.abort()
    await Promise.allSettled([...this.tasks])
  }

  private async handle(event: RevocationEvent, clientId: string): Promise<void> {
    const { store, clients, clock } = this.deps
    const client = await clients.get(clientId)
    const uri = client?.backchannelLogoutUri ?? null
    if (client === null || uri === null) return
    const now = clock()
    // Exactly one node across the cluster: the claim lives as long as the event.
    const claimed = await store.useOnce(
      CLAIM_KIND,
      String(event.seq),
      Math.max(event.expiresAt, now + 1),
      now,
    )
    if (!claimed) return
    const session = await store.getSession(event.value)
    if (session === null) return
    const token = await this.logoutToken(session, client)
    await this.deliver(uri, token, event, session)
  }

  /**
   * §2.4: a logout token for the session's client, signed with the alg of its ID tokens (§2.4: as an
   * ID token would be, which the client already knows how to verify).
   */
  private async logoutToken(session: SessionRecord, client: ClientRecord): Promise<string> {
    const signer = this.deps.keys.signerFor(client.idTokenSignedResponseAlg)
    if (signer === undefined) throw new Error('no signing key is active')
    const iat = this.deps.clock()
    return signer.signTyped('logout+jwt', {
      iss: this.deps.issuer,
      aud: session.clientId,
      iat,
      exp: iat + this.options.tokenSeconds,
      jti: randomUUID(),
      sub: session.userId,
      sid: session.id,
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    })
  }

  private async deliver(
    uri: string,
    token: string,
    event: RevocationEvent,
    session: SessionRecord,
  ): Promise<void> {
    const { metrics, logger } = this.deps
    const context = { client_id: session.clientId, sid: session.id, seq: event.seq }
    for (let attempt = 1; ; attempt++) {
      const result = await this.post(uri, token)
      if (result === 'delivered') {
        metrics.record('delivered')
        // From the revocation's time (whole seconds) to the receiver's 2xx.
        metrics.observeDelay(Math.max(0, Date.now() / 1000 - event.createdAt))
        logger.info({ ...context, attempt }, 'back-channel logout delivered')
        return
      }
      if (result === 'refused') {
        metrics.record('refused')
        logger.warn(context, 'back-channel logout refused by the client')
        return
      }
      if (attempt < this.options.attempts && !this.stopped) {
        await this.wait(this.options.backoffMs * 2 ** (attempt - 1))
      }
      // Out of tries, or the server is stopping (which cut the wait short).
      if (attempt >= this.options.attempts || this.stopped) {
        metrics.record('failed')
        logger.warn({ ...context, attempt }, 'back-channel logout undelivered: giving up')
        return
      }
    }
  }

  /** One POST (§2.5), with a timeout; redirects are not followed. */
  private async post(uri: string, token: string): Promise<PostResult> {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), this.options.timeoutMs)
    const onStop = (): void => controller.abort()
    this.stopping.signal.addEventListener('abort', onStop)
    try {
      const response = await fetch(uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }).toString(),
        redirect: 'manual',
        signal: controller.signal,
      })
      await response.body?.cancel()
      if (response.status >= 200 && response.status < 300) return 'delivered'
      return response.status >= 500 || response.status === 429 ? 'retry' : 'refused'
    } catch {
      return 'retry'
    } finally {
      clearTimeout(timer)
      this.stopping.signal.removeEventListener('abort', onStop)
    }
  }

  private wait(ms: number): Promise<void> {
    const signal = this.stopping.signal
    return new Promise((resolve) => {
      if (signal.aborted) return resolve()
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal.addEventListener('abort', done)
    })
  }
}

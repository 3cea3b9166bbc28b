// The revocation feed, live: every revocation event (a token, a session, a user's or a client's
// tokens) as it happens, newest first. Polls `GET /admin/v1/revocations?after=SEQ` with the
// console's Bearer token every two seconds (an EventSource could not send the token).

import { api } from './api.js'
import { h, replace, time } from './dom.js'
import { report } from './report.js'

const POLL_MS = 2000
const PAGE = 1000
/** How many events the list keeps. */
const SHOWN = 100

/**
 * @typedef {object} Revocation
 * @property {number} seq
 * @property {string} kind
 * @property {string} value
 * @property {string | null} client_id
 * @property {string} created_at
 * @property {string} expires_at
 */

/** What each kind of event covers (`kind` is what the feed says). */
const KINDS = /** @type {Record<string, string>} */ ({
  jti: 'token',
  sid: 'session',
  sub: 'user',
  client: 'client',
  kid: 'signing key',
})

/** @param {Revocation} e */
function item(e) {
  return h(
    'li',
    {},
    h('span', { class: 'seq' }, `#${e.seq}`),
    ' ',
    h('strong', {}, KINDS[e.kind] ?? e.kind),
    ` (${e.kind})`,
    ' ',
    h('span', { class: 'mono' }, e.value),
    e.client_id ? ` · client ${e.client_id}` : '',
    ' · ',
    time(e.created_at),
  )
}

/**
 * @param {HTMLElement} main
 * @returns {Promise<() => void>}
 */
export async function render(main) {
  const list = h('ol', { class: 'feed', 'aria-labelledby': 'feed-heading' })
  const checked = h('p', { class: 'hint' }, 'Reading the feed…')
  let after = 0
  let stopped = false
  /** @type {number | undefined} */
  let timer

  /** Reads every event after the last one seen; the first read fills the list without a flood. */
  async function poll() {
    for (;;) {
      /** @type {Revocation[]} */
      const events = await api('GET', 'revocations', { query: { after, limit: PAGE } })
      if (stopped) return
      for (const e of events) {
        after = Math.max(after, e.seq)
        list.prepend(item(e))
      }
      while (list.children.length > SHOWN) list.lastElementChild?.remove()
      if (events.length < PAGE) break
    }
    checked.textContent = `Following the feed; last checked ${new Date().toLocaleTimeString()}.`
  }

  function schedule() {
    if (stopped) return
    timer = window.setTimeout(() => {
      poll().then(schedule, (err) => {
        stopped = true
        report(err)
      })
    }, POLL_MS)
  }

  replace(
    main,
    h('h1', {}, 'Revocation feed'),
    h(
      'p',
      {},
      'Every revocation, as resource servers and other nodes read it: new events appear at the top ' +
        'within seconds, wherever they were made (this console, the CLI, the revocation endpoint).',
    ),
    checked,
    h('h2', { id: 'feed-heading' }, 'Latest events'),
    list,
  )
  await poll()
  // Live from now on: the events already there are not read out, new ones are.
  list.setAttribute('aria-live', 'polite')
  list.setAttribute('aria-relevant', 'additions')
  if (list.children.length === 0) checked.textContent = 'No live revocation events yet.'
  schedule()
  return () => {
    stopped = true
    window.clearTimeout(timer)
  }
}

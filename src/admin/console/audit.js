// The audit log: who changed what, when and from where, and the security events, newest first,
// filtered by time, actor and kind, a page at a time.

import { api } from './api.js'
import { button, field, h, replace, table, time } from './dom.js'
import { act } from './report.js'

const PAGE = 50

/**
 * @typedef {object} AuditEvent
 * @property {number} id
 * @property {string} at
 * @property {string} kind
 * @property {string} actor
 * @property {string | null} subject
 * @property {string | null} address
 * @property {Record<string, unknown>} details
 */

/** A `datetime-local` value (the browser's time zone) as ISO 8601 UTC. @param {string} value */
const isoOf = (value) => (value ? new Date(value).toISOString() : undefined)

/** @param {AuditEvent} e */
const row = (e) => [
  time(e.at),
  h('span', { class: 'mono' }, e.kind),
  h('span', { class: 'mono' }, e.actor),
  e.subject === null ? '—' : h('span', { class: 'subject' }, e.subject),
  e.address ?? '—',
  Object.keys(e.details).length > 0
    ? h('code', { class: 'details-json' }, JSON.stringify(e.details))
    : '—',
]

const COLUMNS = ['Time', 'Kind', 'Actor', 'Subject', 'Address', 'Details']

/**
 * @param {HTMLElement} main
 * @param {URLSearchParams} params the filter, as the form last set it
 */
export async function render(main, params) {
  const since = h('input', { type: 'datetime-local', name: 'since', step: 1 })
  const until = h('input', { type: 'datetime-local', name: 'until', step: 1 })
  const actor = h('input', { type: 'text', name: 'actor', autocomplete: 'off' })
  const kind = h('input', { type: 'text', name: 'kind', autocomplete: 'off', list: 'audit-kinds' })
  const kinds = h(
    'datalist',
    { id: 'audit-kinds' },
    [
      'client.created',
      'client.updated',
      'client.deleted',
      'client.secret_rotated',
      'client_auth.failed',
      'code.replayed',
      'consent.revoked',
      'key.retired',
      'key.rotated',
      'login.failed',
      'login.locked_out',
      'refresh_token.reused',
      'session.revoked',
      'user.created',
      'user.deleted',
      'user.password_set',
      'user.unlocked',
      'user.updated',
    ].map((k) => h('option', { value: k })),
  )
  actor.value = params.get('actor') ?? ''
  kind.value = params.get('kind') ?? ''
  const listSlot = h('div')
  const more = h('div')
  /** @type {AuditEvent[]} */
  let shown = []

  const filter = () => ({
    since: isoOf(since.value),
    until: isoOf(until.value),
    actor: actor.value.trim() || undefined,
    kind: kind.value.trim() || undefined,
  })

  /** @param {boolean} older the next page after the last event shown */
  async function load(older) {
    const before = older ? shown.at(-1)?.id : undefined
    /** @type {AuditEvent[]} */
    const page = await api('GET', 'audit', { query: { ...filter(), limit: PAGE, before } })
    shown = older ? [...shown, ...page] : page
    replace(
      listSlot,
      table(
        `${shown.length} event${shown.length === 1 ? '' : 's'}, newest first`,
        COLUMNS,
        shown,
        row,
        'No events match.',
      ),
    )
    replace(
      more,
      page.length === PAGE ? button('Older events', () => void act(() => load(true))) : null,
    )
  }

  const form = h(
    'form',
    {
      class: 'panel inline',
      onsubmit: (event) => {
        event.preventDefault()
        void act(() => load(false), 'Audit log filtered.')
      },
    },
    field('From', since),
    field('To', until),
    field('Actor', actor, 'e.g. api:user:ID, cli:root, -'),
    field('Kind', kind, 'e.g. client.created'),
    kinds,
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  )

  replace(main, h('h1', {}, 'Audit log'), form, listSlot, more)
  await load(false)
}

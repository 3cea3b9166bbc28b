// Sessions: the live sessions of a user or of a client, and revoking one (its refresh token and
// every access token issued under it stop working).

import { api, segment } from './api.js'
import { button, confirmAction, field, h, replace, table, time } from './dom.js'
import { act } from './report.js'

/**
 * @typedef {object} Session
 * @property {string} id
 * @property {string | null} username
 * @property {string} user_id
 * @property {string} client_id
 * @property {string} scope
 * @property {string} created_at
 * @property {string} expires_at
 */

/**
 * @param {HTMLElement} main
 * @param {URLSearchParams} params `user=NAME` or `client=ID`
 */
export async function render(main, params) {
  const by = h(
    'select',
    { name: 'by' },
    h('option', { value: 'user' }, 'User (username)'),
    h('option', { value: 'client' }, 'Client (client ID)'),
  )
  const value = h('input', { type: 'text', required: true, autocomplete: 'off', name: 'value' })
  const client = params.get('client')
  by.value = client !== null ? 'client' : 'user'
  value.value = client ?? params.get('user') ?? ''
  const listSlot = h('div')

  const form = h(
    'form',
    {
      class: 'panel inline',
      onsubmit: (event) => {
        event.preventDefault()
        const hash = `#/sessions?${new URLSearchParams({ [by.value]: value.value.trim() })}`
        // The same filter again reloads; another one goes through the router (and history).
        if (window.location.hash === hash) void act(load)
        else window.location.hash = hash
      },
    },
    field('List the sessions of', by),
    field(by.value === 'client' ? 'Client ID' : 'Username', value),
    h('button', { type: 'submit', class: 'primary' }, 'List sessions'),
  )
  const valueLabel = /** @type {HTMLLabelElement} */ (
    form.querySelector(`label[for="${value.id}"]`)
  )
  by.addEventListener('change', () => {
    valueLabel.textContent = by.value === 'client' ? 'Client ID' : 'Username'
  })

  async function load() {
    const filter = { [by.value]: value.value.trim() }
    if (!value.value.trim()) {
      replace(listSlot, h('p', {}, 'Choose a user or a client to list their live sessions.'))
      return
    }
    /** @type {Session[]} */
    const list = await api('GET', 'sessions', { query: filter })
    const of = by.value === 'client' ? `client ${filter.client}` : `user ${filter.user}`
    replace(
      listSlot,
      table(
        `${list.length} live session${list.length === 1 ? '' : 's'} of ${of}`,
        ['Session ID', 'User', 'Client', 'Scope', 'Started', 'Expires', 'Actions'],
        list,
        (s) => [
          h('span', { class: 'mono' }, s.id),
          s.username ?? s.user_id,
          s.client_id,
          s.scope || '—',
          time(s.created_at),
          time(s.expires_at),
          button('Revoke', () => void revoke(s), {
            name: `Revoke session ${s.id}`,
            kind: 'danger',
          }),
        ],
        'No live sessions.',
      ),
    )
  }

  /** @param {Session} s */
  async function revoke(s) {
    const sure = await confirmAction(
      'Revoke the session?',
      `Session ${s.id} of ${s.username ?? s.user_id} at ${s.client_id} ends: its refresh token and ` +
        'access tokens stop working.',
      'Revoke session',
    )
    if (!sure) return
    const done = await act(
      () => api('DELETE', `sessions/${segment(s.id)}`),
      `Session ${s.id} revoked.`,
    )
    if (done) await act(load)
  }

  replace(main, h('h1', {}, 'Sessions'), form, listSlot)
  await load()
}

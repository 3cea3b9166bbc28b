// Signing keys: their states, adding one (a rotation: it signs after a delay, so that resource
// servers fetch it first), and retiring one (withdrawn from the JWKS at once).

import { api, segment } from './api.js'
import { button, confirmAction, field, h, replace, table, time } from './dom.js'
import { act } from './report.js'

const ALGS = ['ES256', 'RS256', 'PS256', 'EdDSA']

/**
 * @typedef {object} Key
 * @property {string} kid
 * @property {string} alg
 * @property {string} state
 * @property {string | null} created_at
 * @property {string | null} activates_at
 * @property {string | null} published_until
 * @property {string | null} retired_at
 * @property {boolean} encrypted
 */

/** @param {HTMLElement} main */
export async function render(main) {
  const listSlot = h('div')
  const alg = h('select', { name: 'alg' }, ...ALGS.map((a) => h('option', { value: a }, a)))
  const activateIn = h('input', { type: 'number', min: 0, value: 60, name: 'activate_in' })

  async function load() {
    /** @type {Key[]} */
    const list = await api('GET', 'keys')
    replace(
      listSlot,
      table(
        `${list.length} signing key${list.length === 1 ? '' : 's'}`,
        [
          'Key ID',
          'Algorithm',
          'State',
          'Created',
          'Signs from',
          'Published until',
          'Retired',
          'Encrypted',
          'Actions',
        ],
        list,
        (k) => [
          h('span', { class: 'mono' }, k.kid),
          k.alg,
          h('span', { class: `state state-${k.state}` }, k.state),
          time(k.created_at),
          time(k.activates_at),
          time(k.published_until),
          time(k.retired_at),
          k.encrypted ? 'yes' : 'no',
          k.retired_at === null
            ? button('Retire', () => void retire(k.kid), {
                name: `Retire key ${k.kid}`,
                kind: 'danger',
              })
            : '—',
        ],
        'No keys.',
      ),
    )
  }

  /** @param {string} kid */
  async function retire(kid) {
    const sure = await confirmAction(
      'Retire the key?',
      `Key ${kid} leaves the JWKS now: tokens it signed stop verifying wherever the JWKS is ` +
        'fetched again. A key that still signs cannot be retired.',
      'Retire key',
    )
    if (!sure) return
    const done = await act(() => api('POST', `keys/${segment(kid)}/retire`), `Key ${kid} retired.`)
    if (done) await act(load)
  }

  const form = h(
    'form',
    {
      class: 'panel inline',
      onsubmit: (event) => {
        event.preventDefault()
        void act(
          () =>
            api('POST', 'keys/rotate', {
              body: { alg: alg.value, activate_in: Number(activateIn.value) },
            }),
          (k) => `Key ${k.kid} (${k.alg}) added.`,
        ).then((key) => {
          if (key) void act(load)
        })
      },
    },
    h('h2', {}, 'Rotate'),
    field('Algorithm', alg),
    field('Signs after (seconds)', activateIn, 'Time for resource servers to fetch it'),
    h('button', { type: 'submit', class: 'primary' }, 'Add a new key'),
  )

  replace(main, h('h1', {}, 'Signing keys'), form, listSlot)
  await load()
}

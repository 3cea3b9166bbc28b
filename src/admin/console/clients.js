// Clients: the list, one client's details, registering one (its generated secret shown once),
// rotating a secret (the new one shown once), and deleting one (which revokes its tokens).

import { api, segment } from './api.js'
import { CLIENT_ID } from './auth.js'
import { button, confirmAction, field, h, replace, table, time } from './dom.js'
import { act } from './report.js'

const GRANTS = ['client_credentials', 'authorization_code', 'refresh_token']

/**
 * @typedef {object} Client
 * @property {string} client_id
 * @property {string} token_endpoint_auth_method
 * @property {string[]} grant_types
 * @property {string} scope
 * @property {string[]} redirect_uris
 * @property {string | null} client_name
 * @property {string} created_at
 * @property {string} [client_secret]
 */

/** Whether the client authenticates with a secret (so has one to rotate). @param {Client} c */
const hasSecret = (c) =>
  c.token_endpoint_auth_method !== 'none' && c.token_endpoint_auth_method !== 'private_key_jwt'

/**
 * A secret shown once, with a copy button, until the operator dismisses it.
 * @param {HTMLElement} slot
 * @param {string} clientId
 * @param {string} secret
 * @param {string} what "created" or "rotated"
 */
function showSecret(slot, clientId, secret, what) {
  const input = h('input', { type: 'text', readonly: true, value: secret, spellcheck: 'false' })
  input.classList.add('mono')
  const heading = h('h2', { tabindex: -1 }, `Secret of ${clientId}`)
  replace(
    slot,
    h(
      'section',
      { class: 'secret' },
      heading,
      h(
        'p',
        {},
        `The client was ${what}. This is its secret: copy it now, it is shown only once ` +
          '(only a hash of it is kept).',
      ),
      field('Client secret', input),
      h(
        'div',
        { class: 'actions' },
        button('Copy', () => {
          void act(() => navigator.clipboard.writeText(secret), 'Secret copied.')
        }),
        button('Done', () => replace(slot), { name: 'Done: hide the secret' }),
      ),
    ),
  )
  heading.focus()
}

/**
 * One client's fields, as the API returns them.
 * @param {HTMLElement} slot
 * @param {Record<string, unknown>} client
 */
function showDetails(slot, client) {
  const rows = Object.entries(client).flatMap(([name, value]) => [
    h('dt', {}, name),
    h(
      'dd',
      {},
      Array.isArray(value)
        ? value.length === 0
          ? '—'
          : value.join(', ')
        : value === null
          ? '—'
          : typeof value === 'object'
            ? JSON.stringify(value)
            : String(value),
    ),
  ])
  const heading = h('h2', { tabindex: -1 }, `Client ${String(client.client_id)}`)
  replace(
    slot,
    h(
      'section',
      { class: 'details' },
      heading,
      h('dl', {}, rows),
      button('Close', () => replace(slot), { name: 'Close the client details' }),
    ),
  )
  heading.focus()
}

/** Lines of a textarea, trimmed, empty ones dropped. @param {string} text */
const lines = (text) =>
  text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')

/**
 * The registration form.
 * @param {(client: Client) => void} created
 */
function createForm(created) {
  const id = h('input', { type: 'text', required: true, autocomplete: 'off', name: 'client_id' })
  const name = h('input', { type: 'text', autocomplete: 'off', name: 'client_name' })
  const grants = GRANTS.map((g) =>
    h('input', { type: 'checkbox', name: 'grant', value: g, checked: g === 'client_credentials' }),
  )
  const scope = h('input', { type: 'text', autocomplete: 'off', name: 'scope' })
  const redirects = h('textarea', { rows: 2, name: 'redirect_uris' })
  const audience = h('input', { type: 'text', autocomplete: 'off', name: 'audience' })
  const kind = h(
    'select',
    { name: 'kind' },
    h('option', { value: 'confidential' }, 'Confidential (with a secret)'),
    h('option', { value: 'public' }, 'Public (browser or native app, PKCE)'),
  )
  const format = h(
    'select',
    { name: 'access_token_format' },
    h('option', { value: 'jwt' }, 'JWT'),
    h('option', { value: 'opaque' }, 'Opaque'),
  )
  const ttl = h('input', { type: 'number', min: 1, max: 86400, value: 300, name: 'ttl' })
  const thirdParty = h('input', { type: 'checkbox', name: 'third_party' })
  const resourceServer = h('input', { type: 'checkbox', name: 'resource_server' })

  const form = h(
    'form',
    {
      class: 'panel',
      onsubmit: (event) => {
        event.preventDefault()
        /** @type {Record<string, unknown>} */
        const body = {
          client_id: id.value.trim(),
          grant_types: grants.filter((g) => g.checked).map((g) => g.value),
          access_token_format: format.value,
          access_token_ttl: Number(ttl.value),
        }
        if (scope.value.trim()) body.scope = scope.value.trim()
        if (name.value.trim()) body.client_name = name.value.trim()
        const uris = lines(redirects.value)
        if (uris.length > 0) body.redirect_uris = uris
        const audiences = audience.value.trim().split(/\s+/).filter(Boolean)
        if (audiences.length > 0) body.audiences = audiences
        if (kind.value === 'public') body.token_endpoint_auth_method = 'none'
        if (thirdParty.checked) body.third_party = true
        if (resourceServer.checked) body.resource_server = true
        void act(
          () => api('POST', 'clients', { body }),
          (c) => `Client ${c.client_id} created.`,
        ).then((client) => {
          if (client) {
            form.reset()
            created(client)
          }
        })
      },
    },
    h('h2', {}, 'Register a client'),
    h(
      'div',
      { class: 'grid' },
      field('Client ID', id, 'Letters, digits and . _ ~ -'),
      field('Display name', name, 'Shown on the login page (optional)'),
      field('Type', kind),
      field('Scope', scope, 'Space-separated, e.g. "read write"'),
      field('Redirect URIs', redirects, 'One per line; needed for authorization_code'),
      field('Audiences', audience, 'Space-separated APIs its tokens are for (optional)'),
      field('Access token format', format),
      field('Access token lifetime (seconds)', ttl),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Grants'),
      grants.map((g) => field(g.value, g)),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Options'),
      field('Third party (users are asked to consent)', thirdParty),
      field('Resource server (may introspect and read the revocation feed)', resourceServer),
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Register client'),
  )
  return form
}

/**
 * @param {HTMLElement} main
 * @returns {Promise<void>}
 */
export async function render(main) {
  const secretSlot = h('div')
  const detailsSlot = h('div')
  const listSlot = h('div')

  async function load() {
    /** @type {Client[]} */
    const list = await api('GET', 'clients')
    replace(
      listSlot,
      table(
        `${list.length} client${list.length === 1 ? '' : 's'}`,
        ['Client ID', 'Name', 'Authentication', 'Grants', 'Scope', 'Created', 'Actions'],
        list,
        (c) => [
          h('span', { class: 'mono' }, c.client_id),
          c.client_name ?? '—',
          c.token_endpoint_auth_method,
          c.grant_types.join(', '),
          c.scope || '—',
          time(c.created_at),
          h(
            'div',
            { class: 'row-actions' },
            button('Show', () => void showClient(c.client_id), {
              name: `Show client ${c.client_id}`,
            }),
            button(
              'Sessions',
              () => (window.location.hash = `#/sessions?client=${encodeURIComponent(c.client_id)}`),
              { name: `Sessions of client ${c.client_id}` },
            ),
            hasSecret(c)
              ? button('Rotate secret', () => void rotate(c.client_id), {
                  name: `Rotate the secret of client ${c.client_id}`,
                })
              : null,
            button('Delete', () => void remove(c.client_id), {
              name: `Delete client ${c.client_id}`,
              kind: 'danger',
            }),
          ),
        ],
        'No clients yet.',
      ),
    )
  }

  /** @param {string} id */
  async function showClient(id) {
    const client = await act(() => api('GET', `clients/${segment(id)}`))
    if (client) showDetails(detailsSlot, client)
  }

  /** @param {string} id */
  async function rotate(id) {
    const sure = await confirmAction(
      'Rotate the secret?',
      `Client ${id} gets a new secret; the current one stops working at once.`,
      'Rotate secret',
    )
    if (!sure) return
    const client = await act(
      () => api('POST', `clients/${segment(id)}/rotate-secret`),
      `The secret of ${id} was rotated.`,
    )
    if (client?.client_secret)
      showSecret(secretSlot, id, client.client_secret, 'given a new secret')
  }

  /** @param {string} id */
  async function remove(id) {
    const sure = await confirmAction(
      'Delete the client?',
      `Client ${id} is removed and every token it holds is revoked. This cannot be undone.` +
        (id === CLIENT_ID
          ? ' It is the console’s own client: you are signed out, and nobody can sign in to ' +
            'the console until the server restarts (which registers it again).'
          : ''),
      'Delete client',
    )
    if (!sure) return
    const done = await act(() => api('DELETE', `clients/${segment(id)}`), `Client ${id} deleted.`)
    if (done) {
      replace(detailsSlot)
      await act(load)
    }
  }

  replace(
    main,
    h('h1', {}, 'Clients'),
    secretSlot,
    detailsSlot,
    listSlot,
    createForm((client) => {
      if (client.client_secret) {
        showSecret(secretSlot, client.client_id, client.client_secret, 'registered')
      }
      void act(load)
    }),
  )
  await load()
}

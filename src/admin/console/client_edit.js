// Editing a client: a form pre-filled from the client's fields that sends only what the operator
// changed (`PATCH /admin/v1/clients/{id}`: a field given replaces the client's, a list as a whole,
// and `null` clears a name or a URI). A refusal (a client that would be invalid) is shown on the
// form, which stays as the operator left it; nothing is changed on the server then.
//
// The console's own client has fields that the server sets at every start (they follow the issuer):
// the form leaves them out rather than offer an edit that the next restart would undo.

import { ApiError, api, segment } from './api.js'
import { CLIENT_ID } from './auth.js'
import { announce, button, field, h, replace, uid } from './dom.js'
import { report } from './report.js'

/** The grants offered as checkboxes, before any other grant the client already has. */
const GRANTS = ['client_credentials', 'authorization_code', 'refresh_token']

/** The fields of the console's client that `latchkey serve` re-aligns at start. */
const MANAGED = new Set([
  'grant_types',
  'scope',
  'redirect_uris',
  'post_logout_redirect_uris',
  'third_party',
  'require_par',
  'dpop_bound_access_tokens',
])

/** Lines of a textarea, trimmed, empty ones dropped. @param {string} text */
const lines = (text) =>
  text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')

/** Space-separated words. @param {string} text */
const words = (text) => text.trim().split(/\s+/).filter(Boolean)

/** Trimmed text, or `null` when empty (the API's "clear it"). @param {string} text */
const orNull = (text) => (text.trim() === '' ? null : text.trim())

/**
 * One editable field: its control(s), laid out, and how to read its wire value back.
 * @typedef {object} Editable
 * @property {string} name the wire name
 * @property {HTMLElement} view
 * @property {() => unknown} read
 * @property {'grid' | 'grants' | 'options'} where
 */

/**
 * @param {Record<string, any>} client the client as the API returns it
 * @returns {Editable[]}
 */
function editables(client) {
  /** @param {string} name @param {string} value */
  const text = (name, value) =>
    h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', name, value })
  /** @param {string} name @param {string[]} value */
  const area = (name, value) => {
    const el = h('textarea', { rows: 2, name, spellcheck: 'false' })
    el.value = value.join('\n')
    return el
  }
  /** @param {string} name @param {boolean} value */
  const check = (name, value) => h('input', { type: 'checkbox', name, checked: value })

  /** @type {string[]} */
  const granted = client.grant_types
  const grantNames = [...GRANTS, ...granted.filter((g) => !GRANTS.includes(g))]
  const grants = grantNames.map((g) =>
    h('input', {
      type: 'checkbox',
      name: 'grant',
      value: g,
      checked: granted.includes(g),
    }),
  )
  const scope = text('scope', client.scope)
  const redirects = area('redirect_uris', client.redirect_uris)
  const audiences = text('audiences', client.audiences.join(' '))
  const name = text('client_name', client.client_name ?? '')
  const logo = text('logo_uri', client.logo_uri ?? '')
  const format = h(
    'select',
    { name: 'access_token_format' },
    h('option', { value: 'jwt', selected: client.access_token_format === 'jwt' }, 'JWT'),
    h('option', { value: 'opaque', selected: client.access_token_format === 'opaque' }, 'Opaque'),
  )
  const ttl = h('input', {
    type: 'number',
    min: 1,
    max: 86400,
    name: 'access_token_ttl',
    value: client.access_token_ttl,
  })
  const origins = area('allowed_origins', client.allowed_origins)
  const logout = area('post_logout_redirect_uris', client.post_logout_redirect_uris)
  const thirdParty = check('third_party', client.third_party)
  const par = check('require_par', client.require_par)
  const dpop = check('dpop_bound_access_tokens', client.dpop_bound_access_tokens)
  const resourceServer = check('resource_server', client.resource_server)

  /** @type {Editable[]} */
  const all = [
    {
      name: 'client_name',
      where: 'grid',
      view: field('Display name', name, 'Shown on the login page; empty for none'),
      read: () => orNull(name.value),
    },
    {
      name: 'logo_uri',
      where: 'grid',
      view: field('Logo URI', logo, 'An https image shown on the login page; empty for none'),
      read: () => orNull(logo.value),
    },
    {
      name: 'scope',
      where: 'grid',
      view: field('Scope', scope, 'Space-separated'),
      read: () => words(scope.value).join(' '),
    },
    {
      name: 'audiences',
      where: 'grid',
      view: field('Audiences', audiences, 'Space-separated APIs its tokens are for'),
      read: () => words(audiences.value),
    },
    {
      name: 'redirect_uris',
      where: 'grid',
      view: field('Redirect URIs', redirects, 'One per line; needed for authorization_code'),
      read: () => lines(redirects.value),
    },
    {
      name: 'post_logout_redirect_uris',
      where: 'grid',
      view: field('Post-logout redirect URIs', logout, 'One per line'),
      read: () => lines(logout.value),
    },
    {
      name: 'allowed_origins',
      where: 'grid',
      view: field('Allowed origins', origins, 'One per line: browser origins that may call it'),
      read: () => lines(origins.value),
    },
    {
      name: 'access_token_format',
      where: 'grid',
      view: field('Access token format', format),
      read: () => format.value,
    },
    {
      name: 'access_token_ttl',
      where: 'grid',
      view: field('Access token lifetime (seconds)', ttl),
      read: () => Number(ttl.value),
    },
    {
      name: 'grant_types',
      where: 'grants',
      view: h(
        'div',
        {},
        grants.map((g) => field(g.value, g)),
      ),
      read: () => grants.filter((g) => g.checked).map((g) => g.value),
    },
    {
      name: 'third_party',
      where: 'options',
      view: field('Third party (users are asked to consent)', thirdParty),
      read: () => thirdParty.checked,
    },
    {
      name: 'require_par',
      where: 'options',
      view: field('Require pushed authorization requests (PAR)', par),
      read: () => par.checked,
    },
    {
      name: 'dpop_bound_access_tokens',
      where: 'options',
      view: field('Require DPoP-bound access tokens', dpop),
      read: () => dpop.checked,
    },
    {
      name: 'resource_server',
      where: 'options',
      view: field('Resource server (may introspect and read the revocation feed)', resourceServer),
      read: () => resourceServer.checked,
    },
  ]
  return client.client_id === CLIENT_ID ? all.filter((e) => !MANAGED.has(e.name)) : all
}

/** Whether two wire values are the same (lists in order). @param {unknown} a @param {unknown} b */
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b)

/**
 * The edit form of `client`, shown in `slot` (its heading focused). `saved` gets the updated client;
 * Cancel empties the slot and calls `closed`.
 * @param {HTMLElement} slot
 * @param {Record<string, any>} client
 * @param {{ saved: (client: Record<string, any>) => void, closed: () => void }} then
 */
export function showEditForm(slot, client, then) {
  const id = String(client.client_id)
  const fields = editables(client)
  const problem = h('p', { class: 'notice', hidden: true })
  const heading = h('h2', { tabindex: -1, id: uid('edit') }, `Edit client ${id}`)
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Save changes')
  /** @param {Editable['where']} where */
  const at = (where) => fields.filter((f) => f.where === where).map((f) => f.view)

  const form = h(
    'form',
    {
      class: 'panel',
      'aria-labelledby': heading.id,
      onsubmit: (event) => {
        event.preventDefault()
        if (submit.disabled) return
        problem.hidden = true
        /** @type {Record<string, unknown>} */
        const body = {}
        for (const f of fields) {
          const value = f.read()
          if (!same(value, client[f.name] ?? null)) body[f.name] = value
        }
        if (Object.keys(body).length === 0) {
          announce(`Nothing to save: client ${id} is unchanged.`)
          return
        }
        void save(body)
      },
    },
    heading,
    client.client_id === CLIENT_ID
      ? h(
          'p',
          { class: 'hint' },
          'This is the console’s own client: its grants, scope, redirect and post-logout URIs, ' +
            'first-party status, PAR and DPoP are set by the server at every start, so they are ' +
            'not offered here.',
        )
      : null,
    problem,
    h('div', { class: 'grid' }, at('grid')),
    at('grants').length > 0 ? h('fieldset', {}, h('legend', {}, 'Grants'), at('grants')) : null,
    h('fieldset', {}, h('legend', {}, 'Options'), at('options')),
    h(
      'div',
      { class: 'actions' },
      submit,
      button(
        'Cancel',
        () => {
          replace(slot)
          then.closed()
        },
        { name: `Cancel editing client ${id}` },
      ),
    ),
  )

  /** @param {Record<string, unknown>} body */
  async function save(body) {
    // One request at a time: a second click while the first is on its way sends nothing.
    submit.disabled = true
    try {
      const updated = await api('PATCH', `clients/${segment(id)}`, { body })
      announce(`Client ${id} updated: ${Object.keys(body).join(', ')}.`)
      replace(slot)
      then.saved(updated)
    } catch (err) {
      // A refusal of the edit itself stays on the form, which keeps what was typed.
      if (err instanceof ApiError && err.status === 400) {
        problem.textContent = `Not saved: ${err.message}`
        problem.hidden = false
      }
      report(err)
    } finally {
      submit.disabled = false
    }
  }

  replace(slot, form)
  heading.focus()
}

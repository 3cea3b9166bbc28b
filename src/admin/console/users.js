// Users: the list, adding one, giving or taking the admin role, forgiving failed logins (unlock),
// and deleting one (their sessions and tokens end with them).

import { api, segment } from './api.js'
import { button, confirmAction, field, h, replace, table, time } from './dom.js'
import { act } from './report.js'

/**
 * @typedef {object} User
 * @property {string} id
 * @property {string} username
 * @property {string | null} email
 * @property {string | null} name
 * @property {boolean} admin
 * @property {string} created_at
 */

/** @param {() => Promise<void>} reload */
function createForm(reload) {
  const username = h('input', { type: 'text', required: true, autocomplete: 'off' })
  const password = h('input', { type: 'password', required: true, autocomplete: 'new-password' })
  const email = h('input', { type: 'email', autocomplete: 'off' })
  const name = h('input', { type: 'text', autocomplete: 'off' })
  const admin = h('input', { type: 'checkbox' })
  const form = h(
    'form',
    {
      class: 'panel',
      onsubmit: (event) => {
        event.preventDefault()
        /** @type {Record<string, unknown>} */
        const body = { username: username.value.trim(), password: password.value }
        if (email.value.trim()) body.email = email.value.trim()
        if (name.value.trim()) body.name = name.value.trim()
        if (admin.checked) body.admin = true
        void act(
          () => api('POST', 'users', { body }),
          (u) => `User ${u.username} created.`,
        ).then((user) => {
          if (user) {
            form.reset()
            void act(reload)
          }
        })
      },
    },
    h('h2', {}, 'Add a user'),
    h(
      'div',
      { class: 'grid' },
      field('Username', username),
      field('Password', password, 'At least the length the server asks for'),
      field('Email', email, 'Optional'),
      field('Full name', name, 'Optional'),
      field('Administrator (may use this console and the admin API)', admin),
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Add user'),
  )
  return form
}

/** @param {HTMLElement} main */
export async function render(main) {
  const listSlot = h('div')

  async function load() {
    /** @type {User[]} */
    const list = await api('GET', 'users')
    replace(
      listSlot,
      table(
        `${list.length} user${list.length === 1 ? '' : 's'}`,
        ['Username', 'Name', 'Email', 'Role', 'Created', 'Actions'],
        list,
        (u) => [
          u.username,
          u.name ?? '—',
          u.email ?? '—',
          u.admin ? 'Administrator' : 'User',
          time(u.created_at),
          h(
            'div',
            { class: 'row-actions' },
            button(
              u.admin ? 'Remove admin' : 'Make admin',
              () => void setAdmin(u.username, !u.admin),
              {
                name: u.admin
                  ? `Remove the admin role of ${u.username}`
                  : `Give ${u.username} the admin role`,
              },
            ),
            button('Unlock', () => void unlock(u.username), { name: `Unlock ${u.username}` }),
            button(
              'Sessions',
              () => (window.location.hash = `#/sessions?user=${encodeURIComponent(u.username)}`),
              { name: `Sessions of ${u.username}` },
            ),
            button('Delete', () => void remove(u.username), {
              name: `Delete user ${u.username}`,
              kind: 'danger',
            }),
          ),
        ],
        'No users yet.',
      ),
    )
  }

  /**
   * @param {string} username
   * @param {boolean} admin
   */
  async function setAdmin(username, admin) {
    if (!admin) {
      const sure = await confirmAction(
        'Remove the admin role?',
        `${username} can no longer use the console or the admin API; their admin tokens are refused at once.`,
        'Remove admin role',
      )
      if (!sure) return
    }
    const done = await act(
      () => api('PATCH', `users/${segment(username)}`, { body: { admin } }),
      admin ? `${username} is now an administrator.` : `${username} is no longer an administrator.`,
    )
    if (done) await act(load)
  }

  /** @param {string} username */
  async function unlock(username) {
    await act(
      () => api('POST', `users/${segment(username)}/unlock`),
      `${username} is unlocked: failed logins are forgiven.`,
    )
  }

  /** @param {string} username */
  async function remove(username) {
    const sure = await confirmAction(
      'Delete the user?',
      `${username} is removed, with their sessions and tokens. This cannot be undone.`,
      'Delete user',
    )
    if (!sure) return
    const done = await act(
      () => api('DELETE', `users/${segment(username)}`),
      `User ${username} deleted.`,
    )
    if (done) await act(load)
  }

  replace(main, h('h1', {}, 'Users'), listSlot, createForm(load))
  await load()
}

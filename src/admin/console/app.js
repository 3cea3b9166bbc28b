// The console's entry point: finishes a sign-in coming back from the authorization endpoint, decides
// what the tab may show (the sign-in page, "not an administrator", or the console), and routes
// between the views by the location's fragment (`#/clients`, `#/sessions?user=alice`). A view's
// `render(main, params)` fills `<main>` and may return a function that stops what it started (the
// revocation feed's polling).

import { ApiError, api } from './api.js'
import {
  beginSignIn,
  completeSignIn,
  currentSession,
  forget,
  isAdmin,
  redirectUri,
  signOut,
  SignInError,
} from './auth.js'
import { announce, clearAnnouncements, h, replace } from './dom.js'
import { onFailure, report } from './report.js'
import * as audit from './audit.js'
import * as clients from './clients.js'
import * as feed from './feed.js'
import * as keys from './keys.js'
import * as sessions from './sessions.js'
import * as users from './users.js'

/** @type {Record<string, { title: string, render: (main: HTMLElement, params: URLSearchParams) => Promise<(() => void) | void> }>} */
const VIEWS = {
  clients: { title: 'Clients', render: clients.render },
  users: { title: 'Users', render: users.render },
  sessions: { title: 'Sessions', render: sessions.render },
  keys: { title: 'Keys', render: keys.render },
  revocations: { title: 'Revocation feed', render: feed.render },
  audit: { title: 'Audit log', render: audit.render },
}

const main = /** @type {HTMLElement} */ (document.getElementById('main'))
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'))
const who = /** @type {HTMLElement} */ (document.getElementById('who'))
const signOutButton = /** @type {HTMLButtonElement} */ (document.getElementById('sign-out'))

/** @type {(() => void) | void} */
let stopView

/** The view and its parameters from the fragment (`#/sessions?user=alice`). */
function route() {
  const match = /^#\/([a-z]+)(?:\?(.*))?$/.exec(window.location.hash)
  const name = match?.[1] && match[1] in VIEWS ? match[1] : 'clients'
  return { name, params: new URLSearchParams(match?.[2] ?? '') }
}

/** @param {boolean} [moved] reached through the navigation, not by loading the page */
async function showView(moved = false) {
  stopView?.()
  stopView = undefined
  clearAnnouncements()
  const { name, params } = route()
  const view = /** @type {(typeof VIEWS)[string]} */ (VIEWS[name])
  document.title = `${view.title} · Latchkey console`
  for (const link of nav.querySelectorAll('a')) {
    if (link.getAttribute('href') === `#/${name}`) link.setAttribute('aria-current', 'page')
    else link.removeAttribute('aria-current')
  }
  replace(main, h('p', { class: 'loading' }, 'Loading…'))
  try {
    stopView = await view.render(main, params)
  } catch (err) {
    report(err)
  }
  // After a move between views, reading starts at the new view (not on first load).
  if (moved) main.focus({ preventScroll: true })
}

/**
 * What an action's failure tells the operator: a token no longer good signs the tab out, a token
 * without the admin scope means "not an administrator", anything else is said in the alert region.
 */
onFailure((err) => {
  if (err instanceof ApiError && err.status === 401) {
    forget()
    showSignIn('Your session has ended. Sign in again to continue.')
  } else if (err instanceof ApiError && err.status === 403) {
    showNotAdmin()
  } else {
    announce(err instanceof Error ? err.message : String(err), { error: true })
  }
})

/** @param {string} [message] why the tab is signed out */
function showSignIn(message) {
  stopView?.()
  stopView = undefined
  nav.hidden = true
  signOutButton.hidden = true
  who.textContent = ''
  document.title = 'Sign in · Latchkey console'
  replace(
    main,
    h('h1', {}, 'Sign in'),
    message ? h('p', { class: 'notice' }, message) : null,
    h(
      'p',
      {},
      'The console manages this Latchkey server: its clients, users, sessions and keys. ' +
        'Sign in with an account that has the admin role.',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'primary',
        onclick: () => void beginSignIn(window.location.hash),
      },
      'Sign in with Latchkey',
    ),
  )
}

function showNotAdmin() {
  stopView?.()
  stopView = undefined
  nav.hidden = true
  signOutButton.hidden = false
  document.title = 'Not an administrator · Latchkey console'
  replace(
    main,
    h('h1', {}, 'Not an administrator'),
    h(
      'p',
      { class: 'notice' },
      'You are signed in, but your account is not an administrator of this Latchkey server, ' +
        'so the console has nothing to show you.',
    ),
    h(
      'p',
      {},
      'An administrator can give it the admin role (',
      h('code', {}, 'latchkey user update --username NAME --admin'),
      '); then sign out and sign in again.',
    ),
  )
  main.focus()
}

/** Names the signed-in operator in the header, from the user list. @param {string} sub */
async function showWho(sub) {
  try {
    /** @type {{ id: string, username: string }[]} */
    const list = await api('GET', 'users')
    const me = list.find((u) => u.id === sub)
    who.textContent = me ? `Signed in as ${me.username}` : 'Signed in'
  } catch (err) {
    report(err)
  }
}

async function start() {
  signOutButton.addEventListener('click', () => void signOut())
  const url = new URL(window.location.href)
  if (url.searchParams.has('state') || url.searchParams.has('error')) {
    // The redirect back from the authorization endpoint: the code leaves the address bar at once.
    window.history.replaceState(null, '', redirectUri)
    try {
      const returnTo = await completeSignIn(url)
      if (/^#\/[a-z]+/.test(returnTo)) window.history.replaceState(null, '', returnTo)
    } catch (err) {
      showSignIn(err instanceof SignInError ? `Signing in failed: ${err.message}` : String(err))
      return
    }
  }
  const session = currentSession()
  if (!session) return showSignIn()
  if (!isAdmin(session)) return showNotAdmin()
  nav.hidden = false
  signOutButton.hidden = false
  window.addEventListener('hashchange', () => void showView(true))
  await showView()
  await showWho(session.sub)
}

void start()

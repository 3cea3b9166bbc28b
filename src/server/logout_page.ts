/**
 * The HTML of the end-session endpoint (OpenID Connect RP-Initiated Logout 1.0 §2): the page that
 * asks a person to confirm signing out, and the page that says they are signed out. The login page's
 * family (`login_page.ts`): server-rendered, no script, every value escaped.
 */
import { escapeHtml, layout } from './login_page.js'

/** The field of the confirmation form that says which button was pressed. */
export const CHOICE_FIELD = 'choice'
export const SIGN_OUT = 'sign_out'
export const CANCEL = 'cancel'

export interface LogoutPageOptions {
  /** Where the form posts. */
  action: string
  /** The client that asked, when known: its display name or id. */
  clientName: string | null
  /** The checked request, carried as hidden fields. */
  hidden: Readonly<Record<string, string>>
  /** Name and value of the CSRF field. */
  csrf: readonly [string, string]
  /** Shown above the buttons, announced by screen readers. */
  message?: string
}

/**
 * Asks whether to sign out: a form that posts back with the CSRF token, a "Sign out" and a "Cancel"
 * button. Shown when the request cannot prove it comes from the signed-in user's application (no
 * valid `id_token_hint`), so that a link on another site cannot sign anyone out (§2, §6).
 */
export function renderLogoutPage(o: LogoutPageOptions): string {
  const hidden = [...Object.entries(o.hidden), o.csrf]
    .map(([n, v]) => `<input type="hidden" name="${escapeHtml(n)}" value="${escapeHtml(v)}">`)
    .join('\n')
  const message =
    o.message === undefined ? '' : `<p class="alert" role="alert">${escapeHtml(o.message)}</p>\n`
  const asker =
    o.clientName === null
      ? ''
      : `<span class="client">${escapeHtml(o.clientName)}</span> asks you to sign out. `
  return layout(
    'Sign out',
    `<h1>Sign out?</h1>
<p class="lead">${asker}Once signed out, you will need to sign in again to use the applications you
signed in to here.</p>
${message}<form method="post" action="${escapeHtml(o.action)}">
${hidden}
<button type="submit" name="${CHOICE_FIELD}" value="${SIGN_OUT}" autofocus>Sign out</button>
<button type="submit" class="secondary" name="${CHOICE_FIELD}" value="${CANCEL}">Cancel</button>
</form>`,
  )
}

/** Says the person is signed out (no post-logout redirect URI), or still signed in (cancelled). */
export function renderSignedOutPage(o: { signedOut: boolean }): string {
  return o.signedOut
    ? layout(
        'Signed out',
        `<h1>You are signed out</h1>
<p class="lead" role="status">You can close this window.</p>`,
      )
    : layout(
        'Still signed in',
        `<h1>You are still signed in</h1>
<p class="lead" role="status">Nothing was changed. You can close this window.</p>`,
      )
}

/**
 * The HTML of the authorization endpoint: the login page, the consent page and the error page (the
 * logout pages, `logout_page.ts`, share their layout). Server-rendered, no
 * script, one stylesheet allowed by its hash; every value from the request or the store goes through
 * `escapeHtml`. Works without JavaScript; readable in light and dark mode; labels bound to inputs.
 */
import { createHash } from 'node:crypto'

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c)
}

const STYLE = `
:root{color-scheme:light dark;--bg:#f3f4f7;--card:#fff;--text:#161a22;--muted:#525a68;--border:#c9ced8;
--accent:#2a55c9;--accent-hover:#1f44a6;--on-accent:#fff;--focus:#2a55c9;--alert-bg:#fdeceb;
--alert-text:#9b1c1c;--alert-border:#f2b8b5}
@media (prefers-color-scheme:dark){:root{--bg:#0f1116;--card:#1a1d24;--text:#eef0f4;--muted:#aab1bf;
--border:#3b414e;--accent:#8aa8ff;--accent-hover:#a8bfff;--on-accent:#0b1020;--focus:#8aa8ff;
--alert-bg:#3a1618;--alert-text:#ffc9c5;--alert-border:#6e2a2d}}
*{box-sizing:border-box}
html,body{height:100%}
body{margin:0;display:flex;align-items:center;justify-content:center;padding:24px 16px;
background:var(--bg);color:var(--text);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{width:100%;max-width:400px}
.card{background:var(--card);border:1px solid var(--border);border-radius:14px;padding:32px 28px;
box-shadow:0 1px 2px rgba(16,24,40,.05),0 12px 32px rgba(16,24,40,.08)}
.brand{display:flex;align-items:center;gap:8px;margin:0 0 24px;color:var(--muted);font-weight:600;
letter-spacing:.01em}
.brand svg{width:22px;height:22px;color:var(--accent)}
h1{margin:0 0 6px;font-size:1.5rem;line-height:1.25}
.lead{margin:0 0 20px;color:var(--muted)}
.client{color:var(--text);font-weight:600;overflow-wrap:anywhere}
.client-logo{display:block;width:48px;height:48px;object-fit:contain;margin:0 0 12px}
.details{margin:16px 0 0;font-size:.875rem;overflow-wrap:anywhere}
.details ul{margin:4px 0 0;padding-left:20px}
.details code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.alert{margin:0 0 16px;padding:10px 14px;border-radius:8px;border:1px solid var(--alert-border);
background:var(--alert-bg);color:var(--alert-text);font-weight:500}
label{display:block;margin:16px 0 6px;font-weight:600;font-size:.9375rem}
input[type=text],input[type=password]{display:block;width:100%;padding:10px 12px;font:inherit;
color:var(--text);background:var(--card);border:1px solid var(--border);border-radius:8px}
input[aria-invalid=true]{border-color:var(--alert-text)}
button{display:block;width:100%;margin-top:24px;padding:11px 16px;font:inherit;font-weight:600;
color:var(--on-accent);background:var(--accent);border:0;border-radius:8px;cursor:pointer}
button:hover{background:var(--accent-hover)}
button.secondary{margin-top:12px;color:var(--text);background:transparent;border:1px solid var(--border)}
button.secondary:hover{background:var(--bg)}
.scopes{margin:8px 0 0;padding-left:20px}
.scopes code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
input:focus-visible,button:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.hint{margin:20px 0 0;color:var(--muted);font-size:.875rem}
footer{margin-top:16px;text-align:center;color:var(--muted);font-size:.8125rem}
`

/** The CSP source that allows the one stylesheet of these pages. */
export const STYLE_HASH = `sha256-${createHash('sha256').update(STYLE).digest('base64')}`

const LOGO = `<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false" fill="none"
stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
<circle cx="8" cy="15" r="4"/><path d="M10.85 12.15 19 4"/><path d="m18 5 2 2"/><path d="m15 8 2 2"/></svg>`

/** The page around `body` (already HTML): the card, the brand, the one stylesheet. */
export function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} · Latchkey</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<div class="card">
<p class="brand">${LOGO}<span>Latchkey</span></p>
${body}
</div>
<footer>Protected by Latchkey</footer>
</main>
</body>
</html>
`
}

export interface LoginPageOptions {
  /** Where the form posts. */
  action: string
  clientId: string
  /** The client's display name, shown instead of its id when it has one. */
  clientName?: string | null
  /** The client's logo (its origin must be in the page's CSP `img-src`). */
  logoUri?: string | null
  /** The authorization request, carried as hidden fields. */
  hidden: Readonly<Record<string, string>>
  /** Name and value of the CSRF field. */
  csrf: readonly [string, string]
  /** Filled in again after a failed attempt. */
  username?: string
  /** Shown above the fields, announced by screen readers. */
  message?: string
  /** Whether the message says the credentials were wrong (marks the fields invalid). */
  invalid?: boolean
}

export function renderLoginPage(o: LoginPageOptions): string {
  const hidden = [...Object.entries(o.hidden), o.csrf]
    .map(([n, v]) => `<input type="hidden" name="${escapeHtml(n)}" value="${escapeHtml(v)}">`)
    .join('\n')
  const message =
    o.message === undefined
      ? ''
      : `<p class="alert" role="alert" id="form-message">${escapeHtml(o.message)}</p>\n`
  const described = o.message === undefined ? '' : ' aria-describedby="form-message"'
  const invalid = o.invalid ? ' aria-invalid="true"' : ''
  const username = o.username ?? ''
  // Focus where the person will type: the username, or the password when the name is filled in.
  const focusUser = username === '' ? ' autofocus' : ''
  const focusPassword = username === '' ? '' : ' autofocus'
  return layout(
    'Sign in',
    `${clientLogo(o.logoUri)}<h1>Sign in</h1>
<p class="lead">to continue to <span class="client">${escapeHtml(o.clientName ?? o.clientId)}</span></p>
${message}<form method="post" action="${escapeHtml(o.action)}">
${hidden}
<label for="username">Username</label>
<input type="text" id="username" name="username" value="${escapeHtml(username)}"
 autocomplete="username" autocapitalize="none" spellcheck="false" required maxlength="64"${described}${invalid}${focusUser}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required${described}${invalid}${focusPassword}>
<button type="submit">Continue</button>
</form>`,
  )
}

function clientLogo(logoUri: string | null | undefined): string {
  return logoUri === undefined || logoUri === null
    ? ''
    : `<img class="client-logo" src="${escapeHtml(logoUri)}" alt="" width="48" height="48">\n`
}

function hiddenFields(fields: readonly (readonly [string, string])[]): string {
  return fields
    .map(([n, v]) => `<input type="hidden" name="${escapeHtml(n)}" value="${escapeHtml(v)}">`)
    .join('\n')
}

export interface ConsentPageOptions {
  /** Where the form posts. */
  action: string
  clientId: string
  clientName?: string | null
  logoUri?: string | null
  /** Who is signed in (shown, so a shared browser does not approve for the wrong person). */
  username: string
  /** The scope names asked for, exactly what an approval grants. */
  scope: readonly string[]
  /** The authorization request, carried as hidden fields. */
  hidden: Readonly<Record<string, string>>
  /** Name and value of the CSRF field, and of the consent mark. */
  csrf: readonly [string, string]
  consent: readonly [string, string]
  /** The name of the buttons' field (`approve` or `cancel`). */
  decision: string
  /** Shown above the list, announced by screen readers. */
  message?: string
}

/**
 * The consent page (OIDC Core §3.1.2.4): the client, who is signed in, the scope names it asks for,
 * and two buttons. No checkboxes: an approval grants exactly the listed scopes.
 */
export function renderConsentPage(o: ConsentPageOptions): string {
  const hidden = hiddenFields([...Object.entries(o.hidden), o.csrf, o.consent])
  const message =
    o.message === undefined ? '' : `<p class="alert" role="alert">${escapeHtml(o.message)}</p>\n`
  const scopes =
    o.scope.length === 0
      ? '<p id="scope-list">It asks for no scopes: only to know that you signed in.</p>'
      : `<p id="scope-list">It asks for these scopes:</p>
<ul class="scopes" aria-labelledby="scope-list">
${o.scope.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('\n')}
</ul>`
  const client = escapeHtml(o.clientName ?? o.clientId)
  const decision = escapeHtml(o.decision)
  return layout(
    'Allow access',
    `${clientLogo(o.logoUri)}<h1>Allow access?</h1>
<p class="lead"><span class="client">${client}</span> wants to access your account
(signed in as <span class="client">${escapeHtml(o.username)}</span>).</p>
${message}<form method="post" action="${escapeHtml(o.action)}">
${hidden}
${scopes}
<button type="submit" name="${decision}" value="approve">Allow</button>
<button type="submit" name="${decision}" value="cancel" class="secondary">Cancel</button>
</form>
<p class="hint">Allow only applications you trust with these.</p>`,
  )
}

/** A labelled list of values shown under an error (for developers, on a loopback issuer only). */
export interface ErrorDetail {
  label: string
  values: readonly string[]
}

export function renderErrorPage(o: {
  title: string
  description: string
  details?: readonly ErrorDetail[]
}): string {
  const details = (o.details ?? [])
    .map(
      (d) =>
        `<div class="details">${escapeHtml(d.label)}<ul>${d.values
          .map((v) => `<li><code>${escapeHtml(v)}</code></li>`)
          .join('')}</ul></div>\n`,
    )
    .join('')
  return layout(
    o.title,
    `<h1>${escapeHtml(o.title)}</h1>
<p class="lead" role="alert">${escapeHtml(o.description)}</p>
${details}<p class="hint">Go back to the application you came from and try again. If this keeps happening, let
its administrator know.</p>`,
  )
}

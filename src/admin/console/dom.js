// Building the console's DOM: elements from plain values (text is always set as text, never parsed
// as markup, so nothing from the API can inject any), tables with header cells, labelled fields, the
// two live regions, and the confirmation dialog of destructive actions.

let counter = 0

/**
 * A fresh element id.
 * @param {string} prefix
 */
export function uid(prefix) {
  counter += 1
  return `${prefix}-${counter}`
}

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @typedef {Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>} Attrs
 */

/**
 * An element: attributes (`on…` functions become listeners, `true` a bare attribute, `false`,
 * `null` and `undefined` nothing) and children (strings become text nodes).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === 'function') el.addEventListener(name.slice(2).toLowerCase(), value)
    else if (value === true) el.setAttribute(name, '')
    else if (value !== false && value !== null && value !== undefined) {
      el.setAttribute(name, String(value))
    }
  }
  append(el, children)
  return el
}

/**
 * @param {Element} el
 * @param {(Child | Child[])[]} children
 */
function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    el.append(typeof child === 'object' ? child : document.createTextNode(String(child)))
  }
}

/**
 * Replaces the children of `el`.
 * @param {Element} el
 * @param {...(Child | Child[])} children
 */
export function replace(el, ...children) {
  el.replaceChildren()
  append(el, children)
}

/**
 * A labelled control: the label's `for` names the control's id (given one if it has none).
 * @param {string} label
 * @param {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} control
 * @param {string} [hint] shown under the control and tied to it with `aria-describedby`
 */
export function field(label, control, hint) {
  if (!control.id) control.id = uid('f')
  /** @type {HTMLElement[]} */
  const parts = [h('label', { for: control.id }, label), control]
  if (hint) {
    const hintId = uid('hint')
    control.setAttribute('aria-describedby', hintId)
    parts.push(h('p', { class: 'hint', id: hintId }, hint))
  }
  return h('div', { class: control.type === 'checkbox' ? 'field check' : 'field' }, parts)
}

/**
 * A table with a caption and column headers (`<th scope="col">`); the first cell of each row is its
 * row header (`<th scope="row">`). Wrapped in a focusable region so that a wide table scrolls with
 * the keyboard.
 * @template T
 * @param {string} caption
 * @param {string[]} columns
 * @param {T[]} rows
 * @param {(row: T) => (Child | Child[])[]} cells
 * @param {string} [empty] shown instead of an empty body
 */
export function table(caption, columns, rows, cells, empty = 'None.') {
  const head = h('tr', {}, ...columns.map((c) => h('th', { scope: 'col' }, c)))
  const body = h('tbody')
  for (const row of rows) {
    const values = cells(row)
    body.append(
      h(
        'tr',
        {},
        values.map((v, i) => (i === 0 ? h('th', { scope: 'row' }, v) : h('td', {}, v))),
      ),
    )
  }
  if (rows.length === 0) {
    body.append(h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, empty)))
  }
  const captionId = uid('caption')
  return h(
    'div',
    { class: 'table-wrap', role: 'region', 'aria-labelledby': captionId, tabindex: 0 },
    h('table', {}, h('caption', { id: captionId }, caption), h('thead', {}, head), body),
  )
}

/**
 * A button; `label` is its visible text, `name` its accessible name when the text alone is
 * ambiguous (a row's "Delete" says which row).
 * @param {string} label
 * @param {() => void} onClick
 * @param {{ name?: string, kind?: 'danger' | 'secondary' | 'primary' }} [options]
 */
export function button(label, onClick, options = {}) {
  return h(
    'button',
    {
      type: 'button',
      class: options.kind ?? 'secondary',
      'aria-label': options.name,
      onclick: onClick,
    },
    label,
  )
}

/**
 * A time for people: the browser's locale and time zone, with the ISO form as its `datetime`.
 * @param {string | null} iso
 */
export function time(iso) {
  if (iso === null) return '—'
  const date = new Date(iso)
  return h('time', { datetime: iso }, date.toLocaleString())
}

/** How long an outcome stays on screen, ms. */
const STATUS_MS = 10_000
/** @type {number | undefined} */
let statusTimer

/** @param {string} id */
function region(id) {
  const el = document.getElementById(id)
  if (!el) throw new Error(`#${id} is missing from the page`)
  return el
}

/**
 * Says `message` in the polite status region (or, with `error`, the alert region), and clears the
 * other one.
 * @param {string} message
 * @param {{ error?: boolean }} [options]
 */
export function announce(message, options = {}) {
  const target = region(options.error ? 'alert' : 'status')
  const other = region(options.error ? 'status' : 'alert')
  other.textContent = ''
  // Emptied first: the same message twice is announced twice.
  target.textContent = ''
  window.clearTimeout(statusTimer)
  window.setTimeout(() => (target.textContent = message), 30)
  // An outcome goes away after a while (it was announced); an error stays until the next one.
  if (!options.error) {
    statusTimer = window.setTimeout(() => (target.textContent = ''), STATUS_MS)
  }
}

/** Empties both regions (a new view). */
export function clearAnnouncements() {
  window.clearTimeout(statusTimer)
  region('status').textContent = ''
  region('alert').textContent = ''
}

/**
 * Asks before a destructive action, in the page's modal dialog; resolves `true` when confirmed.
 * Escape and Cancel resolve `false`.
 * @param {string} title
 * @param {string} message
 * @param {string} confirmLabel the confirm button's text ("Delete client web")
 * @returns {Promise<boolean>}
 */
export function confirmAction(title, message, confirmLabel) {
  const dialog = /** @type {HTMLDialogElement} */ (region('confirm'))
  replace(region('confirm-title'), title)
  replace(region('confirm-text'), message)
  const ok = /** @type {HTMLButtonElement} */ (region('confirm-ok'))
  const cancel = /** @type {HTMLButtonElement} */ (region('confirm-cancel'))
  ok.textContent = confirmLabel
  return new Promise((resolve) => {
    /** @param {boolean} answer */
    const finish = (answer) => {
      ok.removeEventListener('click', onOk)
      cancel.removeEventListener('click', onCancel)
      dialog.removeEventListener('close', onClose)
      if (dialog.open) dialog.close()
      resolve(answer)
    }
    const onOk = () => finish(true)
    const onCancel = () => finish(false)
    const onClose = () => finish(false)
    ok.addEventListener('click', onOk)
    cancel.addEventListener('click', onCancel)
    dialog.addEventListener('close', onClose)
    dialog.showModal()
    // The safe choice has the focus.
    cancel.focus()
  })
}

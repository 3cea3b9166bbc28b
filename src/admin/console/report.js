// Where the views send their failures: the entry point decides what each means (a token no longer
// good signs the tab out, one without the admin scope means "not an administrator"). Kept apart so
// that the views need not import the entry point.

import { announce } from './dom.js'

/** @type {(err: unknown) => void} */
let handler = (err) => announce(err instanceof Error ? err.message : String(err), { error: true })

/** Sets what `report` does. @param {(err: unknown) => void} fn */
export function onFailure(fn) {
  handler = fn
}

/** @param {unknown} err */
export function report(err) {
  handler(err)
}

/**
 * Runs an operator's action: says `success` (or what it makes of the result) in the status region,
 * or reports the failure. Resolves with the result, or `undefined` after a failure.
 * @template T
 * @param {() => Promise<T>} action
 * @param {string | ((result: T) => string)} [success]
 * @returns {Promise<T | undefined>}
 */
export async function act(action, success) {
  try {
    const result = await action()
    if (success !== undefined) announce(typeof success === 'function' ? success(result) : success)
    return result
  } catch (err) {
    report(err)
    return undefined
  }
}

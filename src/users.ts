/**
 * What a username and a password may be: shared by the `user` command, which enforces it, and the
 * login page, which uses it to tell a name that could exist from junk it need not look up.
 */

/** 1–64 printable ASCII characters, no spaces or control characters. */
const USERNAME = /^[\x21-\x7e]{1,64}$/

export const MIN_PASSWORD_LENGTH = 8

/** Whether `name` is a well-formed username. Does not say the user exists. */
export function isUsername(name: string): boolean {
  return USERNAME.test(name)
}

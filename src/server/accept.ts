/**
 * Reading the Accept request header (RFC 9110 §12.5.1) for the one question an endpoint asks of it:
 * does the client list this media type, with a weight above zero? Ranges with a wildcard do not count:
 * a format other than the endpoint's default is given only to a client that names it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-12.5.1
 */

/** RFC 9110 §12.4.2: `q` is 0 to 1 with at most three decimals. */
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/

/**
 * Whether `accept` names `mediaType` (case-insensitively, parameters other than `q` ignored) with a
 * weight above zero. An absent header, a wildcard, `q=0` or a malformed `q` is no. Does not rank the
 * listed types: the caller prefers `mediaType` whenever this says yes.
 */
export function acceptsMediaType(accept: string | undefined, mediaType: string): boolean {
  if (accept === undefined) return false
  const wanted = mediaType.toLowerCase()
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';')
    if (type.trim().toLowerCase() !== wanted) continue
    if (weight(params) > 0) return true
  }
  return false
}

/** The `q` among `params` (`name=value` strings): 1 when absent, 0 when malformed. */
function weight(params: readonly string[]): number {
  for (const param of params) {
    const eq = param.indexOf('=')
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'q') continue
    const value = param.slice(eq + 1).trim()
    return QVALUE.test(value) ? Number(value) : 0
  }
  return 1
}

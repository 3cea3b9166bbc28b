/**
 * The public keys a `private_key_jwt` client signs its assertions with (RFC 7523 §2.2, OpenID Connect
 * Core §9): a JWK Set given inline (`--jwks-file`) or where it is published (`--jwks-uri`), as RFC
 * 7591 §2 `jwks` and `jwks_uri`. Checked once, when the client is registered; mistakes throw
 * `UsageError`. Does not fetch the URI: the keys behind it are the token endpoint's concern.
 */
import { readFile } from 'node:fs/promises'
import { importJWK, type JSONWebKeySet, type JWK } from 'jose'
import { UsageError } from '../errors.js'

/** Members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const

/** The algorithm to try a key with when it names none: the usual one for its type and curve. */
function defaultAlg(jwk: JWK): string | undefined {
  if (jwk.kty === 'RSA') return 'RS256'
  if (jwk.kty === 'EC')
    return { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[jwk.crv ?? '']
  if (jwk.kty === 'OKP') return 'EdDSA'
  return undefined
}

/** One key of the set, checked to be a public signing key that jose can import. */
async function checkKey(key: unknown, index: number): Promise<JWK> {
  const where = `--jwks-file key #${index + 1}`
  if (typeof key !== 'object' || key === null || Array.isArray(key)) {
    throw new UsageError(`${where} is not a JSON object`)
  }
  const jwk = key as JWK
  if (typeof jwk.kty !== 'string' || jwk.kty === '') throw new UsageError(`${where} has no kty`)
  if (jwk.kty === 'oct') {
    throw new UsageError(`${where} is a symmetric (oct) key: give public keys only`)
  }
  for (const member of PRIVATE_MEMBERS) {
    if (member in jwk) {
      throw new UsageError(`${where} has the private member "${member}": give public keys only`)
    }
  }
  if (jwk.use !== undefined && jwk.use !== 'sig') {
    throw new UsageError(`${where} has use ${JSON.stringify(jwk.use)}: a signing key needs "sig"`)
  }
  const alg = typeof jwk.alg === 'string' ? jwk.alg : defaultAlg(jwk)
  try {
    if (alg === undefined) throw new Error('no algorithm')
    await importJWK(jwk, alg)
  } catch {
    throw new UsageError(`${where} is not a usable public key`)
  }
  return jwk
}

/**
 * Reads and checks `--jwks-file`: a JWK Set (RFC 7517 §5) of at least one public signing key, each
 * with `kty` and without any private or symmetric member. Returns the set as given.
 */
export async function readJWKSFile(path: string): Promise<JSONWebKeySet> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    throw new UsageError(`--jwks-file ${JSON.stringify(path)} cannot be read`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new UsageError('--jwks-file is not JSON')
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys
  if (typeof parsed !== 'object' || !Array.isArray(keys) || keys.length === 0) {
    throw new UsageError('--jwks-file must be a JWK Set: {"keys": [ ... ]} with at least one key')
  }
  const checked: JWK[] = []
  for (const [index, key] of keys.entries()) checked.push(await checkKey(key, index))
  return { ...(parsed as object), keys: checked }
}

/** Checks `--jwks-uri`: an absolute https URL without a fragment (http only for loopback). */
export function checkJWKSUri(uri: string): string {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw new UsageError(`--jwks-uri ${JSON.stringify(uri)} is not an absolute URL`)
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) {
    throw new UsageError('--jwks-uri must be https (http is allowed only for loopback)')
  }
  if (url.hash || uri.includes('#')) throw new UsageError('--jwks-uri must not have a fragment')
  if (url.username || url.password) throw new UsageError('--jwks-uri must not carry credentials')
  return uri
}

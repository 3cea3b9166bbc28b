/**
 * Property-based tests of redirect-URI matching at the authorization endpoint (RFC 9700 §2.1): a
 * request is let through to the client (a code or a redirected error) if and only if its
 * `redirect_uri` is byte-for-byte one of the client's registered URIs. Near misses (case, trailing
 * slash, added query or fragment, percent-encoding, user info, another port or scheme, Unicode
 * look-alikes) get the error page; and whatever it redirects to starts with the registered URI.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from '../../test/helpers/fuzz.js'
import { client as storedClient } from '../../test/store/fixtures.js'
import type { ClientRecord } from '../store/types.js'
import { checkAuthorizationRequest, redirectTo } from './authorization_request.js'
import type { ServerContext } from './context.js'
import type { FormParams } from './form.js'

const REGISTERED = [
  'https://app.example/callback',
  'https://app.example/callback?tenant=a',
  'http://127.0.0.1:8080/cb',
  'com.example.app:/oauth2redirect',
]
const client: ClientRecord = storedClient('web', {
  secretHash: null,
  grants: ['authorization_code'],
  scopes: ['read'],
  redirectUris: REGISTERED,
  authMethod: 'none',
  createdAt: 0,
})
const ctx = {
  clients: { get: (id: string) => Promise.resolve(id === 'web' ? client : null) },
} as unknown as ServerContext

/** A small change to a URI: each is a classic way to slip past a lenient matcher. */
const mutation = fc.oneof(
  fc.constant((u: string) => u + '/'),
  fc.constant((u: string) => u.replace(/\/$/, '')),
  fc.constant((u: string) => u.toUpperCase()),
  fc.constant((u: string) => u.replace('app.example', 'APP.example')),
  fc.constant((u: string) => u + '#frag'),
  fc.constant((u: string) => u + (u.includes('?') ? '&x=1' : '?x=1')),
  fc.constant((u: string) => u.replace('https://', 'http://')),
  fc.constant((u: string) => u.replace('://', '://evil.example@')),
  fc.constant((u: string) => u.replace('app.example', 'app.example.evil.example')),
  fc.constant((u: string) => u.replace('app.example', 'app.example:443')),
  fc.constant((u: string) => u.replace('callback', 'call%62ack')),
  fc.constant((u: string) => u.replace('a', '\u0430')),
  fc.constant((u: string) => ` ${u}`),
  fc.constant((u: string) => `${u}\u0000`),
  fc.constant((u: string) => u.replace('/cb', '/cb/../cb')),
  fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 2 })).map(
    ([at, s]) =>
      (u: string) =>
        u.slice(0, at % (u.length + 1)) + s + u.slice(at % (u.length + 1)),
  ),
  fc.nat().map((at) => (u: string) => u.slice(0, at % u.length) + u.slice((at % u.length) + 1)),
)

const candidate = fc.oneof(
  fc.constantFrom(...REGISTERED),
  fc
    .tuple(fc.constantFrom(...REGISTERED), fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([u, ms]) => ms.reduce((acc, m) => m(acc), u)),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.string({ unit: 'binary' }),
)

function params(redirectUri: string): FormParams {
  const p = Object.create(null) as Record<string, string>
  Object.assign(p, {
    response_type: 'code',
    client_id: 'web',
    redirect_uri: redirectUri,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    state: 's',
  })
  return p
}

describe('redirect URI matching properties', () => {
  it('lets a request through to the client if and only if its redirect_uri is byte-equal to a registered one', async () => {
    await fc.assert(
      fc.asyncProperty(candidate, async (uri) => {
        fc.pre(uri !== '')
        const checked = await checkAuthorizationRequest(params(uri), new Set(), ctx)
        const registered = REGISTERED.some((r) => Buffer.from(r).equals(Buffer.from(uri)))
        assert.equal(checked.kind !== 'page', registered, JSON.stringify(uri))
        if (checked.kind === 'valid') {
          assert.equal(checked.request.redirectUri, uri)
          const location = redirectTo(uri, { code: 'c', state: 's' })
          // The registered URI, its query kept, with ours added after it.
          assert.ok(new URL(location).href.startsWith(new URL(uri).href.replace(/#.*$/, '')))
        }
      }),
      fuzzParameters(),
    )
  })
})

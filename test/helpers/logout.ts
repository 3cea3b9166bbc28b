/**
 * What the logout tests share: a browser signed in at a client through the login page with its tokens,
 * and an ID token signed with the server's own key (until the server issues ID tokens itself, a test
 * makes the one a relying party would hold, as OpenID Connect Core §2 shapes it).
 */
import assert from 'node:assert/strict'
import { decodeJwt } from 'jose'
import { openStore } from '../../src/store/index.js'
import { KeyRing } from '../../src/tokens/key_ring.js'
import { authorize, Browser, pkce } from './browser.js'
import type { CreatedClient, TestServer } from './server.js'

export interface SignedIn {
  browser: Browser
  accessToken: string
  refreshToken: string
  /** The session (`sid` of its access token). */
  sid: string
  /** The user (`sub`). */
  sub: string
}

/**
 * Signs `browser` (a new one by default) in at `client` through `node`'s login page and redeems the
 * code there.
 */
export async function signIn(
  node: TestServer,
  client: CreatedClient,
  redirectUri: string,
  user: { username: string; password: string },
  browser = new Browser(node.url),
): Promise<SignedIn> {
  const p = pkce()
  const landed = await authorize(
    browser,
    { clientId: client.client_id, redirectUri, challenge: p.challenge, scope: 'openid' },
    user,
  )
  const code = landed.searchParams.get('code')
  assert.ok(code, `no code in ${landed.href}`)
  const res = await node.post(
    '/token',
    {
      grant_type: 'authorization_code',
      code,
      code_verifier: p.verifier,
      redirect_uri: redirectUri,
    },
    [client.client_id, client.client_secret],
  )
  assert.equal(res.status, 200, res.text)
  const accessToken = res.json.access_token as string
  const claims = decodeJwt(accessToken)
  return {
    browser,
    accessToken,
    refreshToken: res.json.refresh_token as string,
    sid: claims.sid as string,
    sub: claims.sub as string,
  }
}

/** An ID token for `claims`, signed (`typ` JWT) with the key the server signs with now. */
export async function serverSignedIdToken(
  db: string,
  claims: Record<string, unknown>,
): Promise<string> {
  const store = await openStore(db)
  try {
    const ring = await KeyRing.load(store, { clock: () => Math.floor(Date.now() / 1000) })
    const signer = ring.signer()
    assert.ok(signer, 'the server has a signing key')
    return await signer.signTyped('JWT', claims)
  } finally {
    await store.close()
  }
}

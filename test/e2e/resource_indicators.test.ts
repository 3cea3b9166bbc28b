/**
 * Resource indicators (RFC 8707) at the token endpoint of a real server, clients made by the real CLI:
 * `resource=` picks the token's `aud` among the client's `--audience` list (the first is the default)
 * for client_credentials, authorization_code and refresh_token; anything not listed, not an absolute
 * URI, with a fragment, or more than one is `invalid_target`, and spends nothing.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { decodeJwt } from 'jose'
import { authorize, Browser, pkce } from '../helpers/browser.js'
import {
  basic,
  createClient,
  createUser,
  request,
  startServer,
  type CreatedClient,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'

const REDIRECT = 'https://app.example/callback'
const USER = { username: 'alice', password: 'correct horse battery' }
const A = 'https://a.example/api'
const B = 'https://b.example'

describe('resource indicators (RFC 8707) at the token endpoint', () => {
  let server: TestServer
  let svc: CreatedClient
  let svcOpaque: CreatedClient
  let bare: CreatedClient
  let web: CreatedClient
  let api: CreatedClient

  before(async () => {
    server = await startServer()
    const auds = ['--audience', A, '--audience', B]
    svc = createClient(server.db, 'svc', '--grant', 'client_credentials', ...auds)
    svcOpaque = createClient(
      server.db,
      'svc-opaque',
      '--grant',
      'client_credentials',
      ...auds,
      '--access-token-format',
      'opaque',
    )
    bare = createClient(server.db, 'bare', '--grant', 'client_credentials')
    web = createClient(
      server.db,
      'web',
      ...['--grant', 'authorization_code', '--grant', 'refresh_token'],
      ...['--redirect-uri', REDIRECT, ...auds],
    )
    api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
    createUser(server.db, USER)
  })
  after(() => server.dispose())

  const creds = (c: CreatedClient): [string, string] => [c.client_id, c.client_secret]
  const cc = (c: CreatedClient, extra: Record<string, string> = {}) =>
    server.post('/token', { grant_type: 'client_credentials', ...extra }, creds(c))
  const audOf = (res: HttpResponse): unknown => {
    assert.equal(res.status, 200, res.text)
    return decodeJwt(res.json.access_token as string).aud
  }
  const invalidTarget = (res: HttpResponse): void => {
    assert.equal(res.status, 400, res.text)
    assert.equal(res.json.error, 'invalid_target', res.text)
  }
  /** A form with `resource` twice, which URLSearchParams from an object cannot say. */
  function twice(c: CreatedClient, form: Record<string, string>): Promise<HttpResponse> {
    const body = new URLSearchParams(form)
    body.append('resource', A)
    body.append('resource', B)
    return request(server.url + '/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(c.client_id, c.client_secret),
      },
      body: body.toString(),
    })
  }

  it('client_credentials: the first audience by default, another listed one on request', async () => {
    assert.equal(audOf(await cc(svc)), A)
    assert.equal(audOf(await cc(svc, { resource: B })), B)
    assert.equal(audOf(await cc(svc, { resource: A })), A)
    const res = await cc(svcOpaque, { resource: B })
    assert.equal(res.status, 200, res.text)
    const seen = await server.post(
      '/introspect',
      { token: res.json.access_token as string },
      creds(api),
    )
    assert.equal(seen.json.aud, B)
  })

  it('client_credentials: an unlisted, relative, fragment or repeated resource is invalid_target', async () => {
    for (const resource of [
      'https://c.example',
      `${B}/`,
      'b.example',
      '/api',
      `${B}#x`,
      '',
      server.url,
    ]) {
      invalidTarget(await cc(svc, { resource }))
    }
    invalidTarget(await twice(svc, { grant_type: 'client_credentials' }))
    // A client without audiences gets the default one; naming anything else is refused.
    invalidTarget(await cc(bare, { resource: A }))
    assert.equal(
      audOf(await cc(bare)),
      audOf(await cc(bare, { resource: audOf(await cc(bare)) as string })),
    )
  })

  it('authorization_code and refresh_token: resource picks the aud; a refused one spends nothing', async () => {
    const p = pkce()
    const landed = await authorize(
      new Browser(server.url),
      { clientId: 'web', redirectUri: REDIRECT, challenge: p.challenge },
      USER,
    )
    const code = landed.searchParams.get('code')!
    const redeem = {
      grant_type: 'authorization_code',
      code,
      code_verifier: p.verifier,
      redirect_uri: REDIRECT,
    }
    invalidTarget(
      await server.post('/token', { ...redeem, resource: 'https://c.example' }, creds(web)),
    )
    const first = await server.post('/token', { ...redeem, resource: B }, creds(web))
    assert.equal(audOf(first), B)
    const refreshToken = first.json.refresh_token as string

    const refresh = (extra: Record<string, string>) =>
      server.post(
        '/token',
        { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra },
        creds(web),
      )
    invalidTarget(await refresh({ resource: 'https://c.example' }))
    invalidTarget(await twice(web, { grant_type: 'refresh_token', refresh_token: refreshToken }))
    // Still the current refresh token: the refused requests did not rotate it.
    const next = await refresh({ resource: B })
    assert.equal(audOf(next), B)
    const again = await server.post(
      '/token',
      { grant_type: 'refresh_token', refresh_token: next.json.refresh_token as string },
      creds(web),
    )
    assert.equal(audOf(again), A, 'no resource: the default audience')
  })
})

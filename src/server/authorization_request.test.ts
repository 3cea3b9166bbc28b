/**
 * The OpenID Connect request parameters of an authorization request (OIDC Core §3.1.2.1) as
 * `checkAuthorizationRequest` reads them: `prompt` (a set of known values, `none` alone), `max_age`
 * (whole seconds) and `login_hint` (at most 255 characters), each refused with `invalid_request` at
 * the redirect URI, and carried with the request for the login and consent forms.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from '../../test/helpers/fuzz.js'
import { client as storedClient } from '../../test/store/fixtures.js'
import { checkAuthorizationRequest, PROMPT_VALUES } from './authorization_request.js'
import type { ServerContext } from './context.js'
import type { FormParams } from './form.js'

const client = storedClient('web', {
  grants: ['authorization_code'],
  scopes: ['openid'],
  redirectUris: ['https://app.example/cb'],
})
const ctx = {
  clients: { get: (id: string) => Promise.resolve(id === 'web' ? client : null) },
} as unknown as ServerContext

function check(extra: Record<string, string>) {
  const p = Object.create(null) as FormParams
  Object.assign(p, {
    response_type: 'code',
    client_id: 'web',
    redirect_uri: 'https://app.example/cb',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    state: 's',
    ...extra,
  })
  return checkAuthorizationRequest(p, new Set(), ctx)
}

async function refusal(extra: Record<string, string>): Promise<string | null> {
  const checked = await check(extra)
  return checked.kind === 'redirect' ? checked.error.code : null
}

describe('OIDC request parameters', () => {
  it('reads prompt as a set, and carries it with max_age and login_hint', async () => {
    const checked = await check({ prompt: 'login consent login', max_age: '300', login_hint: 'al' })
    assert.equal(checked.kind, 'valid')
    if (checked.kind !== 'valid') return
    assert.deepEqual([...checked.request.prompt].sort(), ['consent', 'login'])
    assert.equal(checked.request.maxAge, 300)
    assert.equal(checked.request.loginHint, 'al')
    assert.equal(checked.request.params.prompt, 'login consent login')
    assert.equal(checked.request.params.max_age, '300')
    assert.equal(checked.request.params.login_hint, 'al')
  })

  it('treats absent and empty values as not sent', async () => {
    const cases: Record<string, string>[] = [{}, { prompt: '', max_age: '', login_hint: '' }]
    for (const extra of cases) {
      const checked = await check(extra)
      assert.equal(checked.kind, 'valid')
      if (checked.kind !== 'valid') continue
      assert.equal(checked.request.prompt.size, 0)
      assert.equal(checked.request.maxAge, undefined)
      assert.equal(checked.request.loginHint, undefined)
    }
  })

  it('accepts a prompt exactly when every value is known and none stands alone', async () => {
    const word = fc.oneof(
      fc.constantFrom(...PROMPT_VALUES),
      fc.constantFrom('create', 'None', 'LOGIN', 'consent,login', ''),
      fc.string({ maxLength: 6 }).filter((s) => !s.includes(' ')),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(word, { maxLength: 4 }), async (words) => {
        const values = words.filter((w) => w !== '')
        const known = values.every((v) => (PROMPT_VALUES as readonly string[]).includes(v))
        const set = new Set(values)
        const valid = known && !(set.has('none') && set.size > 1)
        const code = await refusal({ prompt: words.join(' ') })
        assert.equal(code, valid ? null : 'invalid_request', JSON.stringify(words))
      }),
      fuzzParameters(),
    )
  })

  it('refuses a max_age that is not whole seconds, and a login_hint over 255 characters', async () => {
    for (const maxAge of ['-1', '1.5', '1e3', ' 1', '0x10', 'NaN', '12345678901']) {
      assert.equal(await refusal({ max_age: maxAge }), 'invalid_request', maxAge)
    }
    for (const maxAge of ['0', '007', '9999999999']) {
      assert.equal(await refusal({ max_age: maxAge }), null, maxAge)
    }
    assert.equal(await refusal({ login_hint: 'x'.repeat(256) }), 'invalid_request')
    assert.equal(await refusal({ login_hint: 'é'.repeat(255) }), null)
  })
})

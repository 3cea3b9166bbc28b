/**
 * The `latchkey` program: every command, option and argument with its description. Each subcommand
 * loads its module only when it runs, so `--help` and the short commands start fast. `main.ts` runs
 * it; docs/CLI.md is generated from it (`npm run docs`).
 */
import { createRequire } from 'node:module'
import { Command, Option } from 'commander'
import { defaultText, SETTINGS, type Setting, type SettingName } from '../settings.js'
import { looksOpaque } from '../tokens/opaque.js'
import { fail, UsageError } from './output.js'

const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string }

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]
/** A `serve` setting's option: flag, environment variable, description and default from the table. */
function settingOption(name: SettingName): Option {
  const s: Setting = SETTINGS[name]
  if (s.flag === undefined) throw new Error(`${name} has no flag`)
  return new Option(
    `${s.flag} <${s.value ?? 'value'}>`,
    `${s.description} (default: ${defaultText(name)})`,
  ).env(s.env)
}
const dbOption = (): Option => settingOption('db')

/** The settings that have no flag, as the `Environment:` section of `serve --help`. */
function environmentHelp(): string {
  const rows = (Object.keys(SETTINGS) as SettingName[])
    .filter((name) => (SETTINGS[name] as Setting).flag === undefined)
    .map((name) => {
      const s: Setting = SETTINGS[name]
      return `  ${s.env}\n      ${s.description} (default: ${defaultText(name)})`
    })
  return `\nEnvironment (settings without a flag):\n${rows.join('\n')}\n`
}

/**
 * The operand of a command that takes one token or key id. Those are base64url, so one in 64 begins
 * with `-`: such commands let commander pass unknown options through, and this sorts them out. An
 * argument beginning with `-` is the value when it has a token's or key id's shape (a JWT never
 * begins with `-`), an unknown option otherwise.
 */
function oneOperand(command: Command): string | undefined {
  for (const arg of command.args) {
    // An opaque token's shape, 43 base64url characters, is also a key id's (an RFC 7638 thumbprint).
    if (arg.startsWith('-') && !looksOpaque(arg)) {
      throw new UsageError(`unknown option '${arg.split('=')[0]}'`)
    }
  }
  if (command.args.length > 1) {
    throw new UsageError(`too many arguments: expected 1, got ${command.args.length}`)
  }
  return command.args[0]
}

/** `--email`, a user's profile option. */
const emailOption = (): Option =>
  new Option('--email <address>', 'email address, like name@example.com (claim email)')
/** A user's name option (`--name`, `--given-name`, `--family-name`). */
const nameOption = (flag: string, description: string): Option =>
  new Option(`${flag} <name>`, `${description}: up to 200 printable characters`)

/** Wraps an async action so that any failure becomes one line on stderr and exit 1. */
function run<A extends unknown[]>(
  action: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args)
    } catch (err) {
      fail(err)
    }
  }
}

export function buildProgram(): Command {
  const program = new Command()
    .name('latchkey')
    .description(
      'Token service for APIs: JWT access tokens, opaque refresh tokens, revocation feed',
    )
    .version(pkg.version, '-v, --version')
    .showSuggestionAfterError(true)
    .configureOutput({
      outputError: (str, write) => write(`latchkey: ${str.replace(/^error: /, '')}`),
    })
    .exitOverride()

  program
    .command('serve')
    .description(
      'run the authorization server until SIGTERM or SIGINT; creates the database on first start',
    )
    .addHelpText('after', environmentHelp())
    .addOption(settingOption('port'))
    .addOption(settingOption('host'))
    .addOption(settingOption('db'))
    .addOption(settingOption('issuer'))
    .addOption(settingOption('redis'))
    .addOption(settingOption('redisPrefix'))
    .addOption(settingOption('signingAlg'))
    .addOption(settingOption('logLevel'))
    .addOption(settingOption('metricsPort'))
    .addOption(settingOption('metricsHost'))
    .addOption(settingOption('logoutEndsSessions'))
    .addOption(settingOption('workers'))
    .action(
      run(async (o: Record<string, string>) => {
        const { serve } = await import('./commands/serve.js')
        await serve(o)
      }),
    )

  program
    .command('init')
    .description(
      'create the database (schema, and first signing keys: the access-token alg and RS256 for ID tokens) if it does not exist; prints it as JSON',
    )
    .addOption(dbOption())
    .addOption(
      new Option(
        '--signing-alg <alg>',
        'algorithm of access tokens and of their first key (default ES256)',
      )
        .choices(['ES256', 'RS256', 'PS256', 'EdDSA'])
        .env(SETTINGS.signingAlg.env),
    )
    .action(
      run(async (o: import('./commands/init.js').InitOptions) => {
        const { init } = await import('./commands/init.js')
        await init(o)
      }),
    )

  const client = program
    .command('client')
    .description('register and manage clients: the applications and APIs that use the server')
  client
    .command('create')
    .description('register a client; prints it as JSON, with the secret once if generated')
    .addOption(dbOption())
    .requiredOption('--id <id>', 'client id')
    .option('--secret <secret>', 'client secret (at least 20 characters; default: 256 random bits)')
    .option(
      '--grant <grant>',
      'grant type (repeatable): client_credentials, authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:token-exchange',
      collect,
      [],
    )
    .option('--scope <scopes>', 'space-separated scopes the client may be granted')
    .option('--redirect-uri <uri>', 'exact redirect URI (repeatable)', collect, [])
    .option(
      '--audience <aud>',
      'an audience its access tokens may have (repeatable; the first is the default aud; default: the issuer)',
      collect,
      [],
    )
    .option('--access-token-format <format>', 'jwt or opaque (default jwt)')
    .option('--access-token-ttl <seconds>', 'access-token lifetime (default 300)')
    .option('--resource-server', 'an API: may introspect any token and read the revocation feed')
    .option('--public', 'a public client (no secret; authorization_code with PKCE only)')
    .addOption(
      new Option(
        '--auth-method <method>',
        'how it authenticates at the token endpoint (default client_secret_basic; --public: none)',
      ).choices(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']),
    )
    .option('--jwks-file <file>', 'with private_key_jwt: its public keys, a JWK Set in a file')
    .option('--jwks-uri <url>', 'with private_key_jwt: where it publishes its JWK Set (https)')
    .option(
      '--exchange-audience <aud>',
      'an audience it may exchange tokens toward (repeatable; RFC 8693)',
      collect,
      [],
    )
    .option('--require-par', 'its authorization requests must be pushed first (RFC 9126)')
    .option(
      '--require-dpop',
      'its token requests must carry a DPoP proof: every access token bound to a key (RFC 9449)',
    )
    .option(
      '--allowed-origin <origin>',
      'a browser origin (scheme://host[:port]) allowed cross-origin calls (repeatable; CORS)',
      collect,
      [],
    )
    .option('--display-name <name>', 'the name the login page shows (1-100 printable characters)')
    .option('--logo-uri <url>', 'an image the login page shows (https; http only on loopback)')
    .option('--third-party', 'a third-party app: users approve its scopes on a consent page')
    .option(
      '--post-logout-redirect-uri <uri>',
      'exact URI the browser may return to after logout (repeatable; OpenID Connect RP-Initiated Logout)',
      collect,
      [],
    )
    .option(
      '--backchannel-logout-uri <url>',
      'where its logout tokens are posted when its sessions end (https; http only on loopback)',
    )
    .option(
      '--id-token-signed-response-alg <alg>',
      'algorithm of its OpenID Connect ID tokens: RS256 (default), or ES256, PS256, EdDSA when the server has a key of it',
    )
    .action(
      run(async (o: import('./commands/client.js').CreateClientOptions) => {
        const { createClient } = await import('./commands/client.js')
        await createClient(o)
      }),
    )
  client
    .command('list')
    .description('list clients as a JSON array')
    .addOption(dbOption())
    .action(
      run(async (o: { db?: string }) => {
        const { listClients } = await import('./commands/client.js')
        await listClients(o)
      }),
    )
  client
    .command('show')
    .description('show one client as JSON (never its secret)')
    .addOption(dbOption())
    .requiredOption('--id <id>', 'client id')
    .action(
      run(async (o: { db?: string; id: string }) => {
        const { showClient } = await import('./commands/client.js')
        await showClient(o)
      }),
    )
  client
    .command('delete')
    .description('delete a client and revoke its tokens')
    .addOption(dbOption())
    .requiredOption('--id <id>', 'client id')
    .action(
      run(async (o: { db?: string; id: string }) => {
        const { deleteClient } = await import('./commands/client.js')
        await deleteClient(o)
      }),
    )
  client
    .command('update')
    .description(
      'change a client: each option given replaces its value (a repeatable one, the whole list); prints the client as JSON',
    )
    .addOption(dbOption())
    .requiredOption('--id <id>', 'client id')
    .option('--grant <grant>', 'grant type (repeatable): replaces the grants', collect)
    .option('--scope <scopes>', 'space-separated scopes the client may be granted')
    .option('--redirect-uri <uri>', 'exact redirect URI (repeatable): replaces them', collect)
    .option('--audience <aud>', 'an audience (repeatable): replaces them', collect)
    .option('--exchange-audience <aud>', 'a token-exchange audience (repeatable)', collect)
    .option('--access-token-format <format>', 'jwt or opaque')
    .option('--access-token-ttl <seconds>', 'access-token lifetime')
    .option('--resource-server', 'make it an API: may introspect any token, read the feed')
    .option('--no-resource-server', 'it is no longer an API')
    .option('--jwks-file <file>', 'with private_key_jwt: its new public keys (a JWK Set file)')
    .option('--jwks-uri <url>', 'with private_key_jwt: where it now publishes its JWK Set')
    .option('--require-par', 'its authorization requests must be pushed first')
    .option('--no-require-par', 'it may send authorization requests without pushing them')
    .option('--require-dpop', 'its token requests must carry a DPoP proof')
    .option('--no-require-dpop', 'it may ask for bearer tokens')
    .option('--allowed-origin <origin>', 'a browser origin for CORS (repeatable)', collect)
    .option('--display-name <name>', 'the name the login page shows')
    .option('--no-display-name', 'the login page shows the client id')
    .option('--logo-uri <url>', 'an image the login page shows')
    .option('--no-logo-uri', 'no image on the login page')
    .option('--third-party', 'users approve its scopes on a consent page')
    .option('--no-third-party', 'first-party: no consent page')
    .option('--post-logout-redirect-uri <uri>', 'post-logout redirect URI (repeatable)', collect)
    .option('--backchannel-logout-uri <url>', 'where its logout tokens are posted')
    .option('--no-backchannel-logout-uri', 'no back-channel logout')
    .option('--id-token-signed-response-alg <alg>', 'algorithm of its ID tokens')
    .action(
      run(async (o: import('./commands/client.js').UpdateClientCliOptions) => {
        const { updateClient } = await import('./commands/client.js')
        await updateClient(o)
      }),
    )
  client
    .command('rotate-secret')
    .description(
      'replace a client secret with a new random one, printed once; the old one is refused from then on',
    )
    .addOption(dbOption())
    .requiredOption('--id <id>', 'client id')
    .action(
      run(async (o: { db?: string; id: string }) => {
        const { rotateClientSecret } = await import('./commands/client.js')
        await rotateClientSecret(o)
      }),
    )

  const session = program
    .command('session')
    .description('sessions: one login of a user at a client, the unit of revocation')
  session
    .command('list')
    .description('live sessions of a user or of a client, as a JSON array')
    .addOption(dbOption())
    .option('--user <name>', 'username')
    .option('--client <id>', 'client id')
    .action(
      run(async (o: { db?: string; user?: string; client?: string }) => {
        const { listSessions } = await import('./commands/session.js')
        await listSessions(o)
      }),
    )
  session
    .command('revoke')
    .description('end one session (--id) or every session of a user (--user), tokens included')
    .addOption(dbOption())
    .option('--id <sessionId>', 'session id')
    .option('--user <name>', 'username')
    .action(
      run(async (o: { db?: string; user?: string; id?: string }) => {
        const { revokeSessions } = await import('./commands/session.js')
        await revokeSessions(o)
      }),
    )

  const consent = program
    .command('consent')
    .description("users' remembered consents to third-party clients")
  consent
    .command('list')
    .description("a user's consents (to one client with --client), as a JSON array")
    .addOption(dbOption())
    .requiredOption('--user <name>', 'username')
    .option('--client <id>', 'client id')
    .action(
      run(async (o: { db?: string; user: string; client?: string }) => {
        const { listConsents } = await import('./commands/consent.js')
        await listConsents(o)
      }),
    )
  consent
    .command('revoke')
    .description(
      "withdraw a user's consent to one client (--client) or to all, ending their sessions there",
    )
    .addOption(dbOption())
    .requiredOption('--user <name>', 'username')
    .option('--client <id>', 'client id')
    .action(
      run(async (o: { db?: string; user: string; client?: string }) => {
        const { revokeConsents } = await import('./commands/consent.js')
        await revokeConsents(o)
      }),
    )

  const audit = program
    .command('audit')
    .description('the audit log: operator actions and security events')
  audit
    .command('list')
    .description('audit events, newest first, as a JSON array')
    .addOption(dbOption())
    .option('--since <time>', 'at or after: ISO 8601 time or seconds since the epoch')
    .option('--until <time>', 'at or before: ISO 8601 time or seconds since the epoch')
    .option('--actor <actor>', 'only this actor (cli:USER, -)')
    .option('--kind <kind>', 'only this kind (client.created, client_auth.failed, …)')
    .option('--limit <n>', 'at most this many (1-1000)', '100')
    .option('--before <id>', 'only events with a lower id (the next page)')
    .action(
      run(
        async (o: {
          db?: string
          since?: string
          until?: string
          actor?: string
          kind?: string
          limit?: string
          before?: string
        }) => {
          const { listAudit } = await import('./commands/audit.js')
          await listAudit(o)
        },
      ),
    )

  const user = program.command('user').description('the people who sign in at the login page')
  user
    .command('create')
    .description(
      'add a user; the password is read from standard input (one line, or typed unechoed)',
    )
    .addOption(dbOption())
    .requiredOption('--username <name>', 'login name: 1-64 printable ASCII characters, no spaces')
    .addOption(emailOption())
    .option('--email-verified', "vouch that the email address is the user's (claim email_verified)")
    .addOption(nameOption('--name', 'full name for display (claim name)'))
    .addOption(nameOption('--given-name', 'given name (claim given_name)'))
    .addOption(nameOption('--family-name', 'family name (claim family_name)'))
    .option('--admin', 'the admin role: their logins may be granted the scope latchkey:admin')
    .action(
      run(async (o: import('./commands/user.js').CreateUserOptions) => {
        const { createUser } = await import('./commands/user.js')
        await createUser(o)
      }),
    )
  user
    .command('update')
    .description(
      "change a user's profile, the claims the userinfo endpoint serves; an empty value clears a field",
    )
    .addOption(dbOption())
    .requiredOption('--username <name>', 'login name')
    .addOption(emailOption())
    .option('--email-verified', "vouch that the email address is the user's (claim email_verified)")
    .option(
      '--no-email-verified',
      'the email address is not verified (also the default when --email changes it)',
    )
    .addOption(nameOption('--name', 'full name for display (claim name)'))
    .addOption(nameOption('--given-name', 'given name (claim given_name)'))
    .addOption(nameOption('--family-name', 'family name (claim family_name)'))
    .option('--admin', 'give the admin role: their logins may be granted the scope latchkey:admin')
    .option('--no-admin', 'take the admin role away: the scope is left out from their next refresh')
    .action(
      run(async (o: import('./commands/user.js').UpdateUserOptions) => {
        const { updateUser } = await import('./commands/user.js')
        await updateUser(o)
      }),
    )
  user
    .command('list')
    .description('list users as a JSON array')
    .addOption(dbOption())
    .action(
      run(async (o: { db?: string }) => {
        const { listUsers } = await import('./commands/user.js')
        await listUsers(o)
      }),
    )
  user
    .command('delete')
    .description('delete a user and end their sessions and tokens')
    .addOption(dbOption())
    .requiredOption('--username <name>', 'login name')
    .action(
      run(async (o: { db?: string; username: string }) => {
        const { deleteUser } = await import('./commands/user.js')
        await deleteUser(o)
      }),
    )
  user
    .command('set-password')
    .description("replace a user's password, read from standard input like create")
    .addOption(dbOption())
    .requiredOption('--username <name>', 'login name')
    .action(
      run(async (o: { db?: string; username: string }) => {
        const { setPassword } = await import('./commands/user.js')
        await setPassword(o)
      }),
    )
  user
    .command('unlock')
    .description("forgive a user's failed logins, so the login page lets them try again at once")
    .addOption(dbOption())
    .requiredOption('--username <name>', 'login name')
    .action(
      run(async (o: { db?: string; username: string }) => {
        const { unlockUser } = await import('./commands/user.js')
        await unlockUser(o)
      }),
    )

  const keys = program
    .command('keys')
    .description('signing keys: list them, rotate to a new one, retire one')
  keys
    .command('list')
    .description(
      'list signing keys and their state (pending, active, superseded, expired, retired) as JSON; never a private key',
    )
    .addOption(dbOption())
    .action(
      run(async (o: { db?: string }) => {
        const { listKeys } = await import('./commands/keys.js')
        await listKeys(o)
      }),
    )
  keys
    .command('rotate')
    .description(
      "add a new signing key to its alg's lineage, published now, signing after --activate-in seconds; other algs' keys stay",
    )
    .addOption(dbOption())
    .option(
      '--alg <alg>',
      'ES256, RS256, PS256 or EdDSA (default: the access-token alg, LATCHKEY_SIGNING_ALG, else ES256)',
    )
    .option('--activate-in <seconds>', 'delay before it signs, so caches see it first (default 60)')
    .action(
      run(async (o: { db?: string; alg?: string; activateIn?: string }) => {
        const { rotateKey } = await import('./commands/keys.js')
        await rotateKey(o)
      }),
    )
  keys
    .command('retire')
    .description('withdraw a key now: unpublished, and its tokens refused')
    .argument('[kid]', 'key id')
    .addOption(dbOption())
    .option('--kid <kid>', 'key id (instead of the argument)')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(
      run(async (_kid: string | undefined, o: { db?: string; kid?: string }, command: Command) => {
        const { retireKey } = await import('./commands/keys.js')
        const kid = oneOperand(command) ?? o.kid
        if (!kid) throw new UsageError('keys retire needs a key id')
        await retireKey({ ...o, kid })
      }),
    )

  const token = program.command('token').description('look at tokens: decode one and check it')
  token
    .command('inspect')
    .description(
      'decode a token and check it against the store (--db), or against a running server ' +
        '(--issuer without --db) as a resource server would; exits 0 only when it is valid, ' +
        '2 when it is not',
    )
    .argument('<token>', 'the token')
    .addOption(dbOption())
    .option('--issuer <url>', 'expected issuer (default: the token says); alone, the server to ask')
    .option('--audience <aud>', 'the audience to require (default: the token says)')
    .addOption(
      new Option(
        '--client-id <id>',
        'with --issuer: a --resource-server client, to introspect and read revocations',
      ).env('LATCHKEY_CLIENT_ID'),
    )
    .addOption(
      new Option('--client-secret <secret>', 'its secret (prefer the environment variable)').env(
        'LATCHKEY_CLIENT_SECRET',
      ),
    )
    .allowUnknownOption()
    .allowExcessArguments()
    .action(
      run(
        async (
          value: string,
          o: import('./commands/token.js').InspectOptions,
          command: Command,
        ) => {
          const { inspectToken } = await import('./commands/token.js')
          await inspectToken(oneOperand(command) ?? value, o)
        },
      ),
    )
  return program
}

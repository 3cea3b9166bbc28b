/**
 * The README's commands run as written. Its shell blocks, in order, are one script: this test writes
 * the JavaScript files it asks to save (a ```js block whose first line is `// NAME.mjs`), starts the
 * server the way `npm start` does (`latchkey serve` with the default database, in a fresh folder where
 * `npx latchkey` is installed; on a free port instead of 8080: every `http://127.0.0.1:8080` in the
 * README is rewritten to it), and runs the script with bash. The browser step of the PKCE login is
 * played by curl in the README itself (test/e2e/browser_login.test.ts drives the same page in Chromium).
 *
 * A few commands are not run here, each covered elsewhere (the table below fails if the README drops
 * one, so the list stays true):
 * - `npm install`, `npm test`: what CI runs (.ci/run: `npm ci`, then `npm test`, which includes this).
 * - `npm start`: `node dist/src/cli/main.js serve` (package.json); started here as `latchkey serve`.
 * - `npm pack -w @latchkey/verifier` (and installing the tarball): test/e2e/verifier_package.test.ts packs
 *   it and installs the tarball into an empty project; here `@latchkey/verifier` resolves to
 *   packages/verifier.
 * Commands named in the README's prose: `npx latchkey init` (test/e2e/cli_init.test.ts), `npx latchkey
 * --help` (the CLI reference drift test, docs/CLI.md), `npm run example` (examples/orders-api, the
 * middleware tests in test/e2e/verifier_middleware.test.ts), `npm run bench` (bench/, by hand), the fuzz
 * options `LATCHKEY_FUZZ_RUNS` / `LATCHKEY_FUZZ_SEED` (test/helpers/fuzz.ts).
 *
 * The docs/ files' commands are covered the same way: docs/DEPLOYMENT.md's set-up by
 * test/e2e/deployment_doc.test.ts (run as written against a fresh PostgreSQL database, and its systemd
 * unit through `systemd-analyze verify`); docs/SERVER.md's `curl` examples of the endpoints by
 * test/e2e/token_flow.test.ts, session_flow.test.ts, revocation_feed.test.ts, issuer_path.test.ts,
 * introspection_jwt.test.ts, resource_indicators.test.ts and token_exchange.test.ts;
 * docs/VERIFIER.md's middleware by test/e2e/verifier_middleware.test.ts and its error table by
 * test/e2e/verifier_errors.test.ts; the consistency-gap command by test/e2e/consistency_gap.test.ts.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { codeBlocks, withoutComment } from '../helpers/markdown.js'
import { BIN, freePort, request, tempDir } from '../helpers/server.js'

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..')
const README = join(ROOT, 'README.md')
const README_MAX_BYTES = 15_000

/** README commands this test does not run, and the reason each is covered. */
const NOT_RUN_HERE: Record<string, string> = {
  'npm install': 'CI runs npm ci on a fresh clone (.ci/run)',
  'npm start': 'this test starts the same `latchkey serve` on a free port',
  'npm pack -w @latchkey/verifier':
    'the packing test packs it and installs the tarball into an empty project',
}

describe('README size', () => {
  it(`is at most ${README_MAX_BYTES} bytes`, () => {
    const size = statSync(README).size
    assert.ok(size <= README_MAX_BYTES, `README.md is ${size} bytes, over ${README_MAX_BYTES}`)
  })
})

describe('README', () => {
  let dir: string
  let cleanup: () => void
  let server: ReturnType<typeof spawn> | undefined
  let url: string

  before(async () => {
    ;({ dir, cleanup } = tempDir())
    // `npx latchkey` resolves the bin installed in the folder, as after `npm install latchkey`.
    mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true })
    symlinkSync(BIN, join(dir, 'node_modules/.bin/latchkey'))
    mkdirSync(join(dir, 'node_modules/@latchkey'), { recursive: true })
    const pkg = join(ROOT, 'packages/verifier')
    if (existsSync(join(pkg, 'package.json'))) {
      symlinkSync(pkg, join(dir, 'node_modules/@latchkey/verifier'))
    } else {
      // Before the SDK had a package of its own: the same code, at latchkey/verifier.
      const shim = join(dir, 'node_modules/@latchkey/verifier')
      mkdirSync(shim)
      writeFileSync(
        join(shim, 'package.json'),
        JSON.stringify({ name: '@latchkey/verifier', type: 'module', exports: './index.js' }),
      )
      const target = join(ROOT, 'dist/src/verifier/index.js')
      writeFileSync(join(shim, 'index.js'), `export * from ${JSON.stringify(target)}\n`)
    }
    const port = await freePort()
    url = `http://127.0.0.1:${port}`
    server = spawn(process.execPath, [BIN, 'serve', '--port', String(port)], {
      cwd: dir,
      env: { ...process.env, LATCHKEY_LOG_REQUESTS: 'false' },
      stdio: 'ignore',
    })
    const deadline = Date.now() + 60_000
    for (;;) {
      try {
        if ((await request(`${url}/healthz`)).status === 200) break
      } catch {
        // not listening yet
      }
      assert.ok(Date.now() < deadline, 'the server did not become healthy')
      await new Promise((r) => setTimeout(r, 50))
    }
  })

  after(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server?.once('exit', r))
      server.kill('SIGTERM')
      await exited
    }
    cleanup()
  })

  // Some twenty `npx` runs: slow on a loaded machine, hence the long timeouts.
  it(
    'runs every shell command of the tour as written, from a client token to a revoked session',
    { timeout: 300_000 },
    () => {
      const markdown = readFileSync(README, 'utf8').replaceAll('http://127.0.0.1:8080', url)
      const script: string[] = ['set -euo pipefail']
      const skipped = new Set<string>()
      for (const block of codeBlocks(markdown)) {
        if (block.lang === 'js') {
          const name = /^\/\/ ([\w.-]+\.m?js)\n/.exec(block.body)?.[1]
          if (name) writeFileSync(join(dir, name), block.body)
          continue
        }
        if (block.lang !== 'sh') continue
        for (const line of block.body.split('\n')) {
          if (withoutComment(line) in NOT_RUN_HERE) skipped.add(withoutComment(line))
          else script.push(line)
        }
      }
      assert.deepEqual([...skipped].sort(), Object.keys(NOT_RUN_HERE).sort())
      const run = spawnSync('bash', ['-c', script.join('\n')], {
        cwd: dir,
        env: { ...process.env, LATCHKEY_LOG_LEVEL: 'silent' },
        encoding: 'utf8',
        timeout: 280_000,
      })
      const out = run.stdout
      assert.equal(run.status, 0, `${out}\n${run.stderr}`)
      assert.match(out, /"token_type":"Bearer","expires_in":300,"scope":"read"/)
      assert.match(out, /"refresh_token":/)
      assert.match(out, /^valid: \S+ profile$/m)
      assert.match(out, /^refused: invalid_token /m)
      assert.match(out, /^refused, as it should be$/m)
      assert.match(out, /"valid": ?false/)
      assert.match(out, /^exit code 2$/m)
    },
  )
})

/**
 * docs/DEPLOYMENT.md works as written. Its shell blocks, in order, set Latchkey up from an empty
 * PostgreSQL: create a role and a database, write the environment file, `latchkey init`, `latchkey
 * serve` and wait for /healthz. This test runs them with bash on the machine's PostgreSQL, with its own
 * role and database names instead of `latchkey` and a free port instead of 8001, then drops both.
 *
 * Its systemd unit is extracted and checked by `systemd-analyze verify` (skipped only where the
 * binary is missing; .ci/run installs it), and read the way systemd reads it: a `#` starts a comment
 * only at the start of a line, so no value line may carry a trailing comment.
 *
 * Not run here: `systemctl enable --now latchkey@…` and `journalctl` (they need systemd as PID 1; the
 * unit they load is the one verified here), `useradd --system latchkey` (an account on the machine),
 * the Procfile (the same `latchkey serve` with `LATCHKEY_PORT`, covered by
 * test/e2e/serve_settings.test.ts), and `node dist/bench/storage_size.js` (a benchmark, run by hand).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { codeBlocks } from '../helpers/markdown.js'
import { BIN, freePort, sleep, tempDir } from '../helpers/server.js'
import { MAINTENANCE_URL } from '../store/postgres_databases.js'

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..')
const DOC = join(ROOT, 'docs/DEPLOYMENT.md')
const UNIT_PATH = '/etc/systemd/system/latchkey@.service'
const SERVE_LINE = 'npx latchkey serve --port 8001\n'

function hasSystemdAnalyze(): boolean {
  return spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0
}

/** The unit file shown in the doc: the ini block that names its path on its first line. */
function unitFromDoc(): string {
  const block = codeBlocks(readFileSync(DOC, 'utf8')).find(
    (b) => b.lang === 'ini' && b.body.startsWith(`# ${UNIT_PATH}\n`),
  )
  assert.ok(block, `no ini block starting with "# ${UNIT_PATH}" in docs/DEPLOYMENT.md`)
  return block.body
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: MAINTENANCE_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

describe('docs/DEPLOYMENT.md', () => {
  let dir: string
  let cleanup: () => void
  const name = `latchkey_doc_${randomBytes(5).toString('hex')}`

  before(() => {
    ;({ dir, cleanup } = tempDir())
    mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true })
    symlinkSync(BIN, join(dir, 'node_modules/.bin/latchkey'))
  })

  after(async () => {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin(`DROP ROLE IF EXISTS ${name}`)
    cleanup()
  })

  it(
    'sets Latchkey up from an empty PostgreSQL as written: role, database, init, serve, /healthz',
    { timeout: 300_000 },
    async () => {
      const port = await freePort()
      let script = codeBlocks(readFileSync(DOC, 'utf8'))
        .filter((b) => b.lang === 'sh')
        .map((b) => b.body)
        .join('\n')
      // This test's own role and database, and a free port: each replaced text must be in the doc.
      const replacements: [string, string][] = [
        ['CREATE ROLE latchkey ', `CREATE ROLE ${name} `],
        ['CREATE DATABASE latchkey OWNER latchkey;', `CREATE DATABASE ${name} OWNER ${name};`],
        [
          'postgres://latchkey:change-me@127.0.0.1:5432/latchkey\n',
          `postgres://${name}:change-me@127.0.0.1:5432/${name}\n`,
        ],
        ['127.0.0.1:8001', `127.0.0.1:${port}`],
      ]
      for (const [from, to] of replacements) {
        assert.ok(
          script.includes(from),
          `docs/DEPLOYMENT.md no longer says ${JSON.stringify(from)}`,
        )
        script = script.replaceAll(from, to)
      }
      // The set-up runs as one script; the `serve` line is started as a process of its own (a second
      // terminal in the doc), and the health check is run until the node answers.
      const blocks = script.split(SERVE_LINE)
      assert.equal(blocks.length, 2, `docs/DEPLOYMENT.md must show "${SERVE_LINE}" once`)
      const [setup = '', check = ''] = blocks
      const run = spawnSync('bash', ['-c', `set -euo pipefail\n${setup}`], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 240_000,
      })
      assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`)
      assert.match(run.stdout, /"created": true/)
      assert.match(run.stdout, /"encrypted": true/)
      const serve = spawn(
        'bash',
        [
          '-c',
          `set -a; . ./latchkey.env; set +a; exec ${SERVE_LINE.replace('8001', String(port))}`,
        ],
        {
          cwd: dir,
          detached: true,
          stdio: 'ignore',
          env: { ...process.env, LATCHKEY_LOG_LEVEL: 'warn' },
        },
      )
      const exited = new Promise((r) => serve.once('exit', r))
      try {
        let health = ''
        const deadline = Date.now() + 120_000
        while (!health.includes('"status":"ok"') && Date.now() < deadline) {
          health = spawnSync('bash', ['-c', check], { cwd: dir, encoding: 'utf8' }).stdout
          if (!health.includes('"status":"ok"')) await sleep(250)
        }
        assert.match(health, /^\{"status":"ok"/)
      } finally {
        // npx runs the server as a child: stop the whole group, as Ctrl-C in a terminal does.
        process.kill(-serve.pid!, 'SIGTERM')
        await exited
      }

      // The environment file it wrote is complete: init again with it changes nothing.
      const again = spawnSync(
        'bash',
        ['-c', 'set -a; . ./latchkey.env; set +a; npx latchkey init'],
        {
          cwd: dir,
          encoding: 'utf8',
          timeout: 30_000,
        },
      )
      assert.equal(again.status, 0, again.stderr)
      assert.match(again.stdout, /"created": false/)
    },
  )

  it('shows a systemd unit with no comment trailing a value, which systemd would take as part of it', () => {
    for (const line of unitFromDoc().split('\n')) {
      if (/^\s*([#;]|\[|$)/.test(line)) continue
      assert.match(line, /^[A-Za-z]+=/, `not a Key=Value line: ${line}`)
      assert.doesNotMatch(line, /\s[#;]/, `a trailing comment becomes part of the value: ${line}`)
    }
  })

  it(
    'shows a systemd unit that systemd-analyze verify accepts',
    {
      skip: hasSystemdAnalyze()
        ? false
        : 'systemd-analyze is not installed (apt-get install systemd)',
    },
    () => {
      let unit = unitFromDoc()
      // The doc says to adjust the path of node; on this machine it is process.execPath.
      if (!existsSync('/usr/bin/node')) unit = unit.replace('/usr/bin/node', process.execPath)
      const path = join(dir, 'latchkey@8001.service')
      writeFileSync(path, unit)
      const verify = spawnSync('systemd-analyze', ['verify', path], {
        encoding: 'utf8',
        timeout: 30_000,
      })
      assert.equal(verify.status, 0, verify.stderr)
      assert.equal(verify.stderr.trim(), '', 'systemd-analyze warned')
    },
  )
})

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { SETTINGS, type SettingName } from '../settings.js'
import { buildProgram } from './program.js'
import { cliReference, configurationReference } from './reference.js'

const committed = (name: string): string =>
  readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8')

describe('generated references', () => {
  for (const [file, generate] of [
    ['CLI.md', () => cliReference(buildProgram())],
    ['CONFIGURATION.md', configurationReference],
  ] as const) {
    it(`docs/${file} is what the code generates`, () => {
      assert.ok(
        committed(file) === generate(),
        `docs/${file} differs from the code's definitions: run \`npm run docs\` and commit it`,
      )
    })
  }

  it('names every command and option of the program in the CLI reference', () => {
    const text = cliReference(buildProgram())
    const walk = (command: ReturnType<typeof buildProgram>, path: string): void => {
      for (const c of command.commands) {
        const name = `${path} ${c.name()}`
        assert.ok(text.includes(`## ${name}\n`), name)
        for (const o of c.options) assert.ok(text.includes(`\`${o.flags}\``), `${name} ${o.flags}`)
        walk(c, name)
      }
    }
    walk(buildProgram(), 'latchkey')
  })

  it('names every setting with its environment variable in the configuration reference', () => {
    const text = configurationReference()
    for (const name of Object.keys(SETTINGS) as SettingName[]) {
      assert.ok(text.includes(`| \`${name}\` |`), name)
      assert.ok(text.includes(`\`${SETTINGS[name].env}\``), name)
    }
  })
})

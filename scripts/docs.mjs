// Writes docs/CLI.md and docs/CONFIGURATION.md from the code's own definitions (after `npm run build`).
// `npm run docs` runs it; src/cli/reference.test.ts fails when the committed files differ.
import { writeFileSync } from 'node:fs'
import { buildProgram } from '../dist/src/cli/program.js'
import { cliReference, configurationReference } from '../dist/src/cli/reference.js'

writeFileSync(new URL('../docs/CLI.md', import.meta.url), cliReference(buildProgram()))
writeFileSync(new URL('../docs/CONFIGURATION.md', import.meta.url), configurationReference())
console.log('wrote docs/CLI.md and docs/CONFIGURATION.md')

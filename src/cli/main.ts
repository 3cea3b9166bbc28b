#!/usr/bin/env node
/**
 * The `latchkey` command. Results are JSON on stdout; failures are one line on stderr and exit 1.
 */
import { CommanderError } from 'commander'
import { fail } from './output.js'
import { buildProgram } from './program.js'

try {
  await buildProgram().parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version exit 0; usage errors were already printed as one line.
    process.exit(err.exitCode)
  }
  fail(err)
}

// Marks the compiled `latchkey` bin executable. tsc writes files without the execute bit, and npm
// links a package's own bin only for those who install it: a clone that runs `npx latchkey`, or links
// dist/src/cli/main.js into a PATH or node_modules/.bin (as the docs tests do), needs the bit.
import { chmodSync } from 'node:fs'

chmodSync(new URL('../dist/src/cli/main.js', import.meta.url), 0o755)

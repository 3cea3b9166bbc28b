/**
 * Reading the documentation's code blocks, so tests run the commands the docs show, as written.
 */

export interface CodeBlock {
  /** The fence's language (`sh`, `js`, `ini`, …), empty when none. */
  lang: string
  /** The lines between the fences, each ending with a newline. */
  body: string
}

/** The fenced code blocks of a Markdown file, in order. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = []
  for (const m of markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
    blocks.push({ lang: m[1] ?? '', body: m[2] ?? '' })
  }
  return blocks
}

/** A shell line without its trailing `# comment`. */
export function withoutComment(line: string): string {
  return line.replace(/\s+#.*$/, '').trim()
}

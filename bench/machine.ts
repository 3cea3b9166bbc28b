/**
 * The machine the figures belong to: CPU model (from `lscpu` where it exists, else Node's view),
 * cores, memory and Node version.
 */
import { execFileSync } from 'node:child_process'
import { arch, availableParallelism, cpus, platform, totalmem } from 'node:os'

/** `lscpu`'s "Model name", or null without lscpu. */
function lscpuModel(): string | null {
  try {
    const out = execFileSync('lscpu', { encoding: 'utf8', timeout: 5000 })
    return /^Model name:\s*(.+)$/m.exec(out)?.[1]?.trim() ?? null
  } catch {
    return null
  }
}

export function machineDescription(): {
  model: string
  cores: number
  totalMemoryBytes: number
  node: string
  platform: string
  arch: string
} {
  return {
    model: lscpuModel() ?? cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    totalMemoryBytes: totalmem(),
    node: process.version,
    platform: platform(),
    arch: arch(),
  }
}

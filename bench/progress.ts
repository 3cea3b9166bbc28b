/**
 * Progress on stderr while the benchmark runs: the step, the case, the time since the start and the
 * load time left (whole run and phase). On a terminal one line is rewritten in place; otherwise (CI,
 * a pipe) each phase prints one line, and a long phase a line every ten seconds.
 */
export class Progress {
  private readonly tty = process.stderr.isTTY
  private readonly started = performance.now()
  private label = ''
  private step = 0

  /**
   * `loadSteps` of the `steps` are load cases of `secondsPerLoad` each (warm-up and measured runs):
   * the estimate of time left counts those only, so it is a lower bound.
   */
  constructor(
    private readonly steps: number,
    private loadSteps = 0,
    private readonly secondsPerLoad = 0,
  ) {}

  /** A new numbered step (a floor or a case); `load`: one of the load cases. */
  next(title: string, load = false): void {
    this.step++
    this.clear()
    const elapsed = Math.round((performance.now() - this.started) / 1000)
    const left = Math.ceil(this.loadSteps * this.secondsPerLoad)
    const estimate = this.secondsPerLoad > 0 ? `, ≥ ${left} s of load left` : ''
    process.stderr.write(`[${this.step}/${this.steps} at ${elapsed} s${estimate}] ${title}\n`)
    if (load) this.loadSteps = Math.max(0, this.loadSteps - 1)
  }

  /** A timed phase within the step. */
  phase(label: string, seconds: number): void {
    this.label = label
    if (this.tty) this.render(seconds)
    else process.stderr.write(`  ${label} (${seconds} s)\n`)
  }

  tick(secondsLeft: number): void {
    if (this.tty) this.render(secondsLeft)
    else if (secondsLeft > 0 && secondsLeft % 10 === 0) {
      process.stderr.write(`  ${this.label}: ${secondsLeft} s left\n`)
    }
  }

  /** Waiting for something, with the seconds left before giving up. */
  waiting(what: string, secondsLeft: number): void {
    this.label = what
    if (this.tty) this.render(secondsLeft)
    else if (secondsLeft % 10 === 0) process.stderr.write(`  ${what}: ${secondsLeft} s left\n`)
  }

  /** A line of information under the current step. */
  note(text: string): void {
    this.clear()
    process.stderr.write(`  ${text}\n`)
  }

  done(): void {
    this.clear()
  }

  private render(secondsLeft: number): void {
    const left = Math.max(0, Math.round(secondsLeft * 10) / 10)
    process.stderr.write(`\r\x1b[K  ${this.label}: ${left} s left`)
  }

  private clear(): void {
    if (this.tty) process.stderr.write('\r\x1b[K')
  }
}

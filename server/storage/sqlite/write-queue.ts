/**
 * The process's writes, one at a time. An upload's run is written in steps across many turns of
 * the event loop (RunStore.ingestRunInSteps) inside one transaction of the write connection; any
 * other write of this process waits here for it rather than on SQLite's lock, which would stop
 * the event loop for up to the busy timeout.
 */
export class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve()
  private pending = 0

  /** Runs `write` after every write queued before it. */
  run<T> (write: () => T | Promise<T>): Promise<T> {
    this.pending++
    const done = this.tail.then(write).finally(() => { this.pending-- })
    this.tail = done.catch(() => {})
    return done
  }

  /** True while a write runs or waits. */
  get busy (): boolean {
    return this.pending > 0
  }

  /** Resolves when every write queued so far has finished. */
  async idle (): Promise<void> {
    await this.tail
  }
}

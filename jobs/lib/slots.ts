/**
 * At most `size` holders at once; the others wait and get a slot in the order they asked. A freed
 * slot is handed straight to the first waiter, so a newcomer never jumps the queue.
 */
export class Slots {
  private taken = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  /** Slots held right now. */
  get inUse(): number {
    return this.taken;
  }

  async acquire(): Promise<void> {
    if (this.taken < this.size) {
      this.taken += 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.taken -= 1;
  }

  /** Runs a task in a slot, freeing it however the task ends. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }
}

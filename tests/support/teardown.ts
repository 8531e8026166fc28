/** Steps that undo a test setup, run last first; a setup that fails halfway runs them too, so nothing leaks. */
export class Teardown {
  private readonly steps: (() => Promise<void>)[] = [];

  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) await step();
  }
}

/** Runs `setup`; if it throws, undoes what it had done so far and rethrows. */
export async function undoOnFailure<T>(teardown: Teardown, setup: () => Promise<T>): Promise<T> {
  try {
    return await setup();
  } catch (error) {
    await teardown.run();
    throw error;
  }
}

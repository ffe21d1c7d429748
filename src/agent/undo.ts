// The undo list of a multi-step operation, as the reference CNI plugins defer the release of what
// each step acquired: every step that succeeds pushes its undo, and on failure the list runs in
// reverse, so exactly the steps already taken are undone, the latest first.
import type { Logger } from '../util/log.js';

export type Undo = () => Promise<void>;

export class UndoList {
  private readonly steps: { what: string; undo: Undo }[] = [];

  constructor(private readonly log: Pick<Logger, 'warn'>) {}

  push(what: string, undo: Undo): void {
    this.steps.push({ what, undo });
  }

  /** Forgets every step: what they acquired now belongs to someone else (kept, never undone). */
  discard(): void {
    this.steps.length = 0;
  }

  /**
   * Runs every undo, latest first. A failing undo is logged and the rest still run: the caller
   * reports the original failure, and what is left is found by DEL or reconcile later.
   */
  async run(): Promise<void> {
    for (const { what, undo } of this.steps.splice(0).reverse()) {
      try {
        await undo();
      } catch (e) {
        this.log.warn({ err: (e as Error).message, step: what }, 'undo failed');
      }
    }
  }
}

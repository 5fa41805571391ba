/**
 * One probe loop for every watcher: ticks once a second while at least one page listens (a
 * dashboard nobody looks at asks nothing of the stores), and hands each tick's state out.
 */
import type { PipelineProbe, PipelineState } from './pipeline-probe.ts';

export const TICK_MS = 1000;

export class PipelineFeed {
  readonly #listeners = new Set<(s: PipelineState) => void>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  latest: PipelineState | undefined;

  constructor(readonly probe: PipelineProbe) {}

  /** Calls `listener` with every state until the returned function is called. */
  subscribe(listener: (s: PipelineState) => void): () => void {
    this.#listeners.add(listener);
    if (this.latest) listener(this.latest);
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.#tick(), TICK_MS);
      void this.#tick();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  /** A state for one request: the latest when fresh, else a reading taken now. */
  async now(): Promise<PipelineState> {
    if (this.latest && Date.now() - Date.parse(this.latest.at) < 2 * TICK_MS) return this.latest;
    return (this.latest = await this.probe.tick());
  }

  async #tick(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      this.latest = await this.probe.tick();
      for (const l of this.#listeners) l(this.latest);
    } finally {
      this.#running = false;
    }
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }
}

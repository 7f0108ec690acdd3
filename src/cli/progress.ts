/**
 * Progress of long work for the command line: a live bar redrawn in place on a terminal,
 * plain lines (one per phase, and every quarter of the bytes) when the output is not one.
 */

export interface ProgressSample {
  /** What is going on, e.g. 'delivering (pull)'. */
  readonly phase: string;
  readonly bytes?: number;
  readonly total?: number;
  /** Bytes per block, for the block rate. */
  readonly blockSize?: number;
}

export interface ProgressOptions {
  /** Redraw in place (a terminal); false: plain lines. */
  readonly tty: boolean;
  /** Printed before each line / the bar (e.g. the endpoint). */
  readonly label?: string;
  /** Bar width in characters (default 24). */
  readonly width?: number;
  readonly now?: () => number;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(2)} MiB`;
}

/** The bar itself, e.g. `[██████░░░░]  60%`. */
export function renderBar(fraction: number, width: number): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}

export class ProgressReporter {
  readonly #out: NodeJS.WritableStream;
  readonly #o: ProgressOptions;
  readonly #now: () => number;
  #phase = '';
  #samples: Array<{ at: number; bytes: number }> = [];
  #lastDraw = 0;
  #drawn = false;
  #quarter = -1;
  #last: ProgressSample | undefined;

  constructor(out: NodeJS.WritableStream, options: ProgressOptions) {
    this.#out = out;
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** A new sample; the phase may change with it. */
  update(s: ProgressSample): void {
    const now = this.#now();
    const phaseChanged = s.phase !== this.#phase;
    if (phaseChanged) {
      this.#phase = s.phase;
      this.#samples = [];
      this.#quarter = -1;
    }
    if (s.bytes !== undefined) {
      this.#samples.push({ at: now, bytes: s.bytes });
      while (this.#samples.length > 2 && now - (this.#samples[0] as { at: number }).at > 5000) this.#samples.shift();
    }
    this.#last = s;
    if (this.#o.tty) {
      if (phaseChanged || now - this.#lastDraw >= 100 || (s.total !== undefined && s.bytes === s.total)) this.#draw(s);
      return;
    }
    if (phaseChanged) this.#line(this.#text(s));
    else if (s.bytes !== undefined && s.total !== undefined && s.total > 0) {
      const q = Math.floor((4 * s.bytes) / s.total);
      if (q > this.#quarter && q > 0) {
        this.#quarter = q;
        this.#line(this.#text(s));
      }
    }
  }

  /** A line of its own (a transition, an anomaly), above the bar. */
  note(text: string): void {
    this.#clear();
    this.#out.write(`${this.#prefix()}${text}\n`);
    if (this.#o.tty && this.#last !== undefined) this.#draw(this.#last);
  }

  /** Ends the bar (the cursor goes to a new line). */
  finish(): void {
    if (this.#o.tty && this.#drawn) this.#out.write('\n');
    this.#drawn = false;
  }

  /** Blocks per second over the last few seconds, when the block size is known. */
  blockRate(blockSize: number | undefined): number | undefined {
    if (blockSize === undefined || blockSize <= 0 || this.#samples.length < 2) return undefined;
    const a = this.#samples[0] as { at: number; bytes: number };
    const b = this.#samples[this.#samples.length - 1] as { at: number; bytes: number };
    if (b.at <= a.at) return undefined;
    return (b.bytes - a.bytes) / blockSize / ((b.at - a.at) / 1000);
  }

  #prefix(): string {
    return this.#o.label === undefined ? '' : `${this.#o.label}  `;
  }

  #text(s: ProgressSample): string {
    const parts = [s.phase];
    if (s.bytes !== undefined && s.total !== undefined && s.total > 0) {
      parts.push(renderBar(s.bytes / s.total, this.#o.width ?? 24), `${formatBytes(s.bytes)}/${formatBytes(s.total)}`);
    } else if (s.bytes !== undefined) parts.push(formatBytes(s.bytes));
    const rate = this.blockRate(s.blockSize);
    if (s.blockSize !== undefined) parts.push(`${s.blockSize}-byte blocks`);
    if (rate !== undefined) parts.push(`${rate.toFixed(rate < 10 ? 1 : 0)} blocks/s`);
    return `${this.#prefix()}${parts.join('  ')}`;
  }

  #draw(s: ProgressSample): void {
    this.#lastDraw = this.#now();
    this.#out.write(`\r\x1b[2K${this.#text(s)}`);
    this.#drawn = true;
  }

  #clear(): void {
    if (this.#o.tty && this.#drawn) this.#out.write('\r\x1b[2K');
  }

  #line(text: string): void {
    this.#out.write(`${text}\n`);
  }
}

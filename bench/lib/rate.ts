/** Micro-benchmark timing: how often a synchronous function runs per second. */
import { performance } from 'node:perf_hooks';

/** Runs `fn` for about `seconds` (after `warmMs` of warm-up) and returns operations per second. */
export function rate(fn: () => void, seconds: number, warmMs = 150): number {
  const warm = performance.now() + warmMs;
  while (performance.now() < warm) fn();
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 16; i++) fn();
    n += 16;
    now = performance.now();
  }
  return n / ((now - start) / 1000);
}

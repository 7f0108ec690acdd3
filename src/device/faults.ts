/**
 * Faults the emulated device can be told to have, their command-line syntax, and a seeded
 * random number generator so a fleet run with a seed misbehaves the same way every time.
 *
 * Syntax (`--fault`): a comma-separated list of
 *
 *   drop=<p>            drop each datagram, in and out, with probability p ("5%" or "0.05")
 *   sleep=<duration>    queue mode: sleep this long between contacts ("30s", "500ms", "2m")
 *   <name>[:<times>]    a one-shot fault, firing on the first <times> occasions (default 1;
 *                       "always" = every time). Names:
 *     corrupt-block        flip a byte in a received image block   → Update Result 5
 *     out-of-flash         the package does not fit                → 2 (push: 4.13 + Size1)
 *     out-of-ram           no memory to process the manifest       → 3
 *     connection-lost      the download breaks off half way        → 4
 *     reboot-mid-download  the device reboots half way             → Idle, 4, re-registers
 *     fail-install         installing the image fails              → 8, old version kept
 *     fail-boot            the new image does not boot; the bootloader falls back to the
 *                          old slot after the reboot              → 8, old version kept
 *     stuck-updating       accepts Update, stays in State 3 (Updating) and never
 *                          restarts; refuses the reset (4.05) and a new URI (4.00)
 *   and modes that hold for the device's whole life (no count):
 *     stub-object          object 5 is a stub: it reports State 1 (Downloading) from the
 *                          start, acknowledges Package blocks and URI writes, and never
 *                          changes State or Result
 *     fixed-version        /3/0/3 always reports the factory version (as Anjay's demo
 *                          reports its library version); /5/0/7 names the installed package
 *
 * e.g. `drop=5%,corrupt-block,connection-lost:2,fail-boot:always`.
 */
import { Lwm2mFotaError } from '../errors';

/** The one-shot faults, by their command-line names. */
export const ONE_SHOT_FAULTS = {
  'corrupt-block': 'corruptBlock',
  'out-of-flash': 'outOfFlash',
  'out-of-ram': 'outOfRam',
  'connection-lost': 'connectionLost',
  'reboot-mid-download': 'rebootMidDownload',
  'fail-install': 'failInstall',
  'fail-boot': 'failBoot',
  'stuck-updating': 'stuckUpdating',
  'stub-object': 'stubObject',
  'fixed-version': 'fixedVersion',
} as const;

export type OneShotFault = (typeof ONE_SHOT_FAULTS)[keyof typeof ONE_SHOT_FAULTS];

/**
 * What is wrong with a device. A one-shot fault holds how many times it fires
 * (`Infinity` = every time); a count of 0 or an absent field means the fault is off.
 */
export interface DeviceFaults {
  /** Probability (0..1) that any one datagram, in either direction, is lost. */
  dropRate?: number;
  /** Queue mode: how long the device sleeps between contacts (ms). */
  sleepMs?: number;
  corruptBlock?: number;
  outOfFlash?: number;
  outOfRam?: number;
  connectionLost?: number;
  rebootMidDownload?: number;
  failInstall?: number;
  failBoot?: number;
  stuckUpdating?: number;
  /** A mode: any count > 0 turns it on for good (checked with `armed`, never used up). */
  stubObject?: number;
  /** A mode, as stubObject. */
  fixedVersion?: number;
}

function usage(message: string): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_CLI_USAGE', message);
}

/** "5%", "0.05" → 0.05. */
export function parseProbability(text: string, what: string): number {
  const t = text.trim();
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(t);
  if (!m) throw usage(`${what} must be a probability such as 5% or 0.05, got "${text}"`);
  const p = m[2] === '%' ? Number(m[1]) / 100 : Number(m[1]);
  if (!(p >= 0 && p <= 1)) throw usage(`${what} must be between 0 and 1 (0% and 100%), got "${text}"`);
  return p;
}

/** "30s", "500ms", "2m", "1h", "250" (ms) → milliseconds. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw usage(`${what} must be a duration such as 500ms, 30s or 2m, got "${text}"`);
  const unit = m[2] ?? 'ms';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(Number(m[1]) * factor);
}

/**
 * Parses the `--fault` syntax (see the module comment).
 *
 * @throws Lwm2mFotaError `ERR_CLI_USAGE` naming the item that does not parse.
 */
export function parseFaultSpec(spec: string): DeviceFaults {
  const faults: DeviceFaults = {};
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq >= 0) {
      const name = item.slice(0, eq);
      const value = item.slice(eq + 1);
      if (name === 'drop') faults.dropRate = parseProbability(value, 'drop');
      else if (name === 'sleep') faults.sleepMs = parseDuration(value, 'sleep');
      else throw usage(`unknown fault "${name}=" (known: drop=<p>, sleep=<duration>)`);
      continue;
    }
    const colon = item.indexOf(':');
    const name = colon >= 0 ? item.slice(0, colon) : item;
    const key = (ONE_SHOT_FAULTS as Record<string, OneShotFault | undefined>)[name];
    if (key === undefined) throw usage(`unknown fault "${name}" (known: drop=<p>, sleep=<duration>, ${Object.keys(ONE_SHOT_FAULTS).join(', ')})`);
    let times = 1;
    if (colon >= 0) {
      const t = item.slice(colon + 1);
      if (t === 'always' || t === '*') times = Infinity;
      else if (/^\d+$/.test(t) && Number(t) >= 1) times = Number(t);
      else throw usage(`fault "${name}": times must be a positive integer or "always", got "${t}"`);
    }
    faults[key] = times;
  }
  return faults;
}

/** The `--fault` text of a fault set (the inverse of `parseFaultSpec`), for logs. */
export function formatFaultSpec(f: DeviceFaults): string {
  const parts: string[] = [];
  if (f.dropRate) parts.push(`drop=${+(f.dropRate * 100).toFixed(3)}%`);
  if (f.sleepMs) parts.push(`sleep=${f.sleepMs}ms`);
  for (const [name, key] of Object.entries(ONE_SHOT_FAULTS)) {
    const n = f[key];
    if (n === undefined || n <= 0) continue;
    parts.push(n === 1 ? name : n === Infinity ? `${name}:always` : `${name}:${n}`);
  }
  return parts.join(',');
}

/**
 * A small seeded PRNG (mulberry32): uniform in [0, 1). Not for cryptography — it decides
 * which packets a simulated link loses, reproducibly.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes a fleet seed and a device index into a per-device seed. */
export function deviceSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** The live counters of one device's one-shot faults: `fire()` says whether a fault strikes now. */
export class FaultState {
  private readonly remaining: DeviceFaults;

  constructor(faults: DeviceFaults = {}) {
    this.remaining = { ...faults };
  }

  get dropRate(): number {
    return this.remaining.dropRate ?? 0;
  }

  get sleepMs(): number | undefined {
    return this.remaining.sleepMs;
  }

  /** Whether `fault` is armed, without using it up. */
  armed(fault: OneShotFault): boolean {
    return (this.remaining[fault] ?? 0) > 0;
  }

  /** True (and one use consumed) when `fault` fires now. */
  fire(fault: OneShotFault): boolean {
    const n = this.remaining[fault] ?? 0;
    if (n <= 0) return false;
    this.remaining[fault] = n - 1;
    return true;
  }

  /** What is still armed. */
  snapshot(): DeviceFaults {
    return { ...this.remaining };
  }
}

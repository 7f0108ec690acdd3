/**
 * The update machine's configuration, what a job is about, and the context of one step.
 */
import type { DeliveryMethodName, PackageScheme } from '../delivery';

/**
 * What confirms that the new firmware runs, after Update Result 1:
 * - 'firmwareVersion': /3/0/3 equals the version the manifest announced (the default);
 * - 'pkgVersion': /5/0/7 (PkgVersion) equals it, for devices whose /3/0/3 never changes;
 * - 'result': Update Result 1 alone.
 */
export type ConfirmBy = 'firmwareVersion' | 'pkgVersion' | 'result';

export const CONFIRM_CHOICES: readonly ConfirmBy[] = ['firmwareVersion', 'pkgVersion', 'result'];

/** The default settle timeout (ms) when the configuration gives none. */
export const DEFAULT_SETTLE_MS = 5_000;

export interface UpdateTimeouts {
  /**
   * Queued: how long an attempt waits for the device to be reachable; absent or 0 = for
   * ever. When it ends, a device whose registration lapsed meanwhile fails the job
   * 'deviceUnreachable'; one still registered (but not answering) is retried.
   */
  readonly contact?: number;
  /** The whole transfer, from the delivery's start to State Downloaded (not per block). */
  readonly delivery: number;
  /** From sending Update to the device accepting it (2.04 or State Updating). */
  readonly update: number;
  /** From the device accepting Update to its re-registration (install + reboot). */
  readonly reboot: number;
  /** From re-registration to a conclusive Update Result and /3/0/3. */
  readonly verify: number;
  /** From sending a cancel to the device confirming it. */
  readonly cancel: number;
  /**
   * From the last block acknowledged (push) or the Package URI accepted (pull) to a change
   * of State: a device whose State never moves has a stub object 5 (default 5 s).
   */
  readonly settle?: number;
}

export interface UpdateConfig {
  /** Attempts in all, the first included; a transient failure on the last one fails the job. */
  readonly maxAttempts: number;
  /** Wait before attempt n+1 = min(backoffMaxMs, backoffBaseMs · 2^(n−1)). */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Milliseconds. A runner may pass longer ones for queue-mode devices. */
  readonly timeouts: UpdateTimeouts;
  /** The oldest history entries are dropped beyond this many. */
  readonly historyLimit: number;
}

export const DEFAULT_UPDATE_CONFIG: UpdateConfig = {
  maxAttempts: 3,
  backoffBaseMs: 30_000,
  backoffMaxMs: 3_600_000,
  timeouts: { contact: 24 * 3_600_000, settle: 5_000, delivery: 30 * 60_000, update: 5 * 60_000, reboot: 10 * 60_000, verify: 2 * 60_000, cancel: 2 * 60_000 },
  historyLimit: 200,
};

/** What a job is about; fixed when it is created. */
export interface JobSpec {
  readonly id: string;
  readonly endpoint: string;
  readonly firmwareId: string;
  /** /3/0/3 the manifest announces; compared after trimming white space. */
  readonly expectedVersion: string;
  readonly method?: DeliveryMethodName;
  readonly payloadOnly: boolean;
  readonly packageUris?: Readonly<Partial<Record<PackageScheme, string>>>;
  /** What confirms success (default 'firmwareVersion'). */
  readonly confirm?: ConfirmBy;
  /** This job's contact timeout (ms; 0 = wait for ever), instead of the configuration's. */
  readonly contactTimeout?: number;
}

export interface MachineContext {
  /** Epoch ms. */
  readonly now: number;
  readonly config: UpdateConfig;
  readonly job: JobSpec;
}


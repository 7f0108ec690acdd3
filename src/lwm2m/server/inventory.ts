/**
 * The device inventory: what each registered device runs, as the server last read it —
 * today the firmware version (/3/0/3, TS Core Appendix E.4 "Firmware Version"). It is read
 * after a device registers (a Register may follow a reboot into other firmware) and when
 * an Update finds it unknown; whoever learns the version otherwise (an update job confirms
 * it) records it here. `GET /api/devices/:ep` and the update service read it from here.
 *
 * Reads are bounded: at most `readsInFlight` devices are asked at a time, and devices
 * waiting for a slot are one entry each of an insertion-ordered Set — no closure or
 * promise per device, so a fleet registering at once costs little; only callers that
 * await a version get a promise.
 */
import { parsePath } from '../core/model/path';
import type { RegistrationChange, RegistrationService } from './registration/registration-service';
import type { DeviceManagement } from './requests/device-management';

export interface DeviceInventoryOptions {
  readonly devices: DeviceManagement;
  readonly registrations: RegistrationService;
  /**
   * Devices not to read now because their version is being read already by someone else
   * (an update job reads /3/0/3 itself after the reboot and records what it found).
   */
  readonly skipRead?: (endpoint: string) => boolean;
  /** Devices asked at a time (default 16). */
  readonly readsInFlight?: number;
  /** Reads queued without a waiter, at most (default 10 000; beyond, the next Update reads it). */
  readonly queueLimit?: number;
}

const VERSION_PATH = parsePath('/3/0/3');

export class DeviceInventory {
  readonly #o: DeviceInventoryOptions;
  readonly #readsInFlight: number;
  readonly #queueLimit: number;
  /** /3/0/3 as last read, by endpoint. */
  readonly #versions = new Map<string, string>();
  /** Devices whose /3/0/3 is to be read, oldest first. */
  readonly #pending = new Set<string>();
  /** Devices being asked now. */
  readonly #reading = new Set<string>();
  readonly #waiters = new Map<string, Array<(version: string | undefined) => void>>();
  #active = 0;
  #closed = false;
  readonly #unsubscribe: () => void;

  /** Starts following the registrations. */
  constructor(options: DeviceInventoryOptions) {
    this.#o = options;
    this.#readsInFlight = options.readsInFlight ?? 16;
    this.#queueLimit = options.queueLimit ?? 10_000;
    this.#unsubscribe = options.registrations.onChange((c) => this.#onRegistration(c));
  }

  /**
   * The firmware version (/3/0/3) the device runs, as last read. With `read`, a device that
   * listens and whose version is not known yet is asked (at most `timeoutMs`, default 2 s).
   */
  async firmwareVersion(endpoint: string, options: { read?: boolean; timeoutMs?: number } = {}): Promise<string | undefined> {
    const known = this.#versions.get(endpoint);
    if (known !== undefined || options.read !== true) return known;
    if (!this.#o.devices.isAwake(endpoint)) return undefined;
    const read = this.#read(endpoint);
    const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), options.timeoutMs ?? 2000).unref());
    return Promise.race([read, timeout]);
  }

  /** Records a version learnt otherwise (an update job read it, or confirmed it). */
  record(endpoint: string, version: string): void {
    this.#versions.set(endpoint, version.trim());
  }

  /**
   * Reads the device's version again when it listens (an update ended without confirming
   * one: it runs its old firmware, normally). A device asleep is read at its next Register.
   */
  refresh(endpoint: string): void {
    if (!this.#closed && this.#o.devices.isAwake(endpoint)) this.#readLater(endpoint);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#pending.clear();
    for (const [ep, ws] of this.#waiters) for (const w of ws) w(this.#versions.get(ep));
    this.#waiters.clear();
  }

  #onRegistration(c: RegistrationChange): void {
    if (this.#closed) return;
    const ep = c.registration.endpoint;
    if (this.#o.skipRead?.(ep) === true) return;
    if (c.type === 'registered') this.#readLater(ep);
    else if (c.type === 'updated' && !this.#versions.has(ep)) this.#readLater(ep);
  }

  #read(endpoint: string): Promise<string | undefined> {
    this.#pending.add(endpoint);
    this.#pump();
    return new Promise((resolve) => {
      const list = this.#waiters.get(endpoint);
      if (list === undefined) this.#waiters.set(endpoint, [resolve]);
      else list.push(resolve);
    });
  }

  /** A read nobody waits for; dropped when the queue is full (the next Update asks again). */
  #readLater(endpoint: string): void {
    if (this.#pending.size >= this.#queueLimit) return;
    this.#pending.add(endpoint);
    this.#pump();
  }

  #pump(): void {
    while (this.#active < this.#readsInFlight && this.#pending.size > 0 && !this.#closed) {
      const endpoint = this.#pending.values().next().value as string;
      this.#pending.delete(endpoint);
      if (this.#reading.has(endpoint)) continue; // one read per device at a time; it answers the waiters
      this.#active++;
      this.#reading.add(endpoint);
      void this.#ask(endpoint).finally(() => {
        this.#active--;
        this.#reading.delete(endpoint);
        const waiters = this.#waiters.get(endpoint);
        if (waiters !== undefined && !this.#pending.has(endpoint)) {
          this.#waiters.delete(endpoint);
          const v = this.#versions.get(endpoint);
          for (const w of waiters) w(v);
        }
        this.#pump();
      });
    }
  }

  async #ask(endpoint: string): Promise<void> {
    try {
      if (this.#closed || !this.#o.devices.isAwake(endpoint)) return;
      const res = await this.#o.devices.perform(endpoint, { operation: 'read', path: VERSION_PATH });
      const c = res.operation === 'read' && res.success ? res.content : undefined;
      if (c?.kind === 'resource' && typeof c.value === 'string') this.#versions.set(endpoint, c.value.trim());
    } catch {
      // no answer: the version stays as last known
    }
  }
}

/**
 * Many emulated devices in one process, each with its own socket, sharing what can be
 * shared (object model, codecs, decoded trust keys and policy).
 */
import { EventEmitter } from 'node:events';
import { createDevice, devicePolicy } from './device';
import { deviceSeed, seededRandom, type DeviceFaults } from './faults';
import type { DeviceEvent, DeviceEventName, DeviceInfo, DeviceListener, DeviceOptions, EmulatedDevice } from './types';

export const DEVICE_EVENT_NAMES: readonly DeviceEventName[] = [
  'registered',
  'registrationUpdated',
  'registrationFailed',
  'deregistered',
  'stateChanged',
  'downloadStarted',
  'blockReceived',
  'verified',
  'rejected',
  'downloaded',
  'updating',
  'rebooting',
  'rebooted',
  'updated',
  'updateFailed',
  'cancelled',
  'faultInjected',
  'notified',
  'asleep',
  'awake',
  'warning',
];

export interface FleetOptions extends Omit<DeviceOptions, 'endpoint' | 'seed' | 'faults'> {
  /** How many devices (≥ 1). */
  readonly count: number;
  /** Endpoint names are `<prefix>-0000`, `<prefix>-0001` … (a single device with `exactName` is called `<prefix>`). */
  readonly prefix: string;
  /** With count 1: name the device `prefix` itself. */
  readonly exactName?: boolean;
  /** Index of the first device (default 0). */
  readonly firstIndex?: number;
  /** Faults for the fleet: every device has them, or with `faultRate` only some. */
  readonly faults?: DeviceFaults;
  /** Probability (0..1) that a device gets `faults`, drawn per device from `seed`. Default 1. */
  readonly faultRate?: number;
  /** Seed for fault selection and packet drops (default 1). */
  readonly seed?: number;
  /** Devices registering at the same time while starting (default 50). */
  readonly startConcurrency?: number;
}

export interface Fleet {
  readonly devices: readonly EmulatedDevice[];
  /** Starts every device (a bounded number at a time); resolves when all registered or the fleet stopped. */
  start(): Promise<void>;
  /** Stops every device (de-registering each). */
  stop(options?: { deregister?: boolean }): Promise<void>;
  info(): DeviceInfo[];
  on<K extends DeviceEventName>(event: K, listener: DeviceListener<K>): this;
  off<K extends DeviceEventName>(event: K, listener: DeviceListener<K>): this;
  /** The endpoints that received the fault set. */
  readonly faulty: ReadonlySet<string>;
}

/** `<prefix>-0042`: four digits at least, more when the fleet needs them. */
export function fleetEndpointName(prefix: string, index: number, count: number): string {
  const width = Math.max(4, String(count - 1).length);
  return `${prefix}-${String(index).padStart(width, '0')}`;
}

class DeviceFleet extends EventEmitter implements Fleet {
  readonly devices: EmulatedDevice[] = [];
  readonly faulty = new Set<string>();
  private stopped = false;

  constructor(private readonly options: FleetOptions) {
    super();
    this.setMaxListeners(0);
  }

  async init(): Promise<void> {
    const o = this.options;
    if (!Number.isInteger(o.count) || o.count < 1) throw new RangeError(`count must be a positive integer, got ${o.count}`);
    const seed = o.seed ?? 1;
    const pick = seededRandom(deviceSeed(seed, -1));
    const rate = o.faultRate ?? 1;
    // One policy object for all: the decoded keys are shared, not copied per device.
    const policy = (o.packageFormat ?? 'suit') === 'suit' ? devicePolicy(o) : undefined;
    const first = o.firstIndex ?? 0;
    for (let i = 0; i < o.count; i++) {
      const index = first + i;
      const endpoint = o.count === 1 && o.exactName ? o.prefix : fleetEndpointName(o.prefix, index, first + o.count);
      const faulty = o.faults !== undefined && pick() < rate;
      if (faulty) this.faulty.add(endpoint);
      const { count: _c, prefix: _p, exactName: _e, firstIndex: _f, faults: _faults, faultRate: _r, seed: _s, startConcurrency: _sc, ...common } = o;
      const device = await createDevice({
        ...common,
        ...(policy ? { policy } : {}),
        endpoint,
        seed: deviceSeed(seed, index),
        ...(faulty && o.faults ? { faults: o.faults } : {}),
      });
      for (const name of DEVICE_EVENT_NAMES) device.on(name, (e: DeviceEvent<typeof name>) => this.emit(name, e));
      this.devices.push(device);
    }
  }

  async start(): Promise<void> {
    const queue = [...this.devices];
    const workers = Array.from({ length: Math.min(this.options.startConcurrency ?? 50, queue.length) }, async () => {
      for (let d = queue.shift(); d !== undefined && !this.stopped; d = queue.shift()) await d.start();
    });
    await Promise.all(workers);
  }

  async stop(options: { deregister?: boolean } = {}): Promise<void> {
    this.stopped = true;
    await Promise.all(this.devices.map((d) => d.stop(options)));
  }

  info(): DeviceInfo[] {
    return this.devices.map((d) => d.info());
  }

  override on<K extends DeviceEventName>(event: K, listener: DeviceListener<K>): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override off<K extends DeviceEventName>(event: K, listener: DeviceListener<K>): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }
}

/**
 * Creates `count` devices named `<prefix>-0000` … with shared options; `faultRate` gives the
 * fault set to a seeded random share of them.
 *
 * @example
 * const fleet = await createFleet({ count: 100, prefix: 'bench', server: 'coap://[::1]:5683',
 *   trustedKeys, vendorDomain: 'example.com', className: 'sensor', faults: { connectionLost: 1 }, faultRate: 0.1 });
 * fleet.on('updated', (e) => console.log(e.endpoint, e.to));
 * await fleet.start();
 */
export async function createFleet(options: FleetOptions): Promise<Fleet> {
  const fleet = new DeviceFleet(options);
  await fleet.init();
  return fleet;
}

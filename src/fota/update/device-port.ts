/**
 * The runners' port to the devices: what {@link JobRunner}s need of the world, in LwM2M
 * terms, through `lwm2m/server` only (fota never speaks CoAP, except to serve /fw):
 *
 * - effects → LwM2M operations: Read / Write / Execute / Observe of /5 and /3/0/3 through
 *   `DeviceManagement.request` (a request for a sleeping queue-mode device waits in its
 *   queue; the answer has one type either way), and the push: a block-wise Write of the
 *   package to /5/0/0 once the device listens (`whenAwake`), with progress and abort;
 * - the device's notifications of /5/0/3 and /5/0/5, its registrations (Register after a
 *   reboot, Update after a sleep, De-register, expiry) and the blocks the /fw route serves
 *   it while it pulls → machine inputs;
 * - versions the machine reads or confirms → the device inventory;
 * - progress: the one throttle ({@link ProgressThrottle}), used by the runner for
 *   `updateProgress`; push and pull feed every block to the runner as it comes.
 */
import { isLwm2mFotaError } from '../../errors';
import type { EventBus, EventInput, EventMap, UpdateEventName } from '../../events';
import { resource } from '../../lwm2m/core/content-formats';
import { formatPath, pathsEqual, type LwM2mPath } from '../../lwm2m/core/model';
import type { DeviceInventory } from '../../lwm2m/server/inventory';
import type { Notification } from '../../lwm2m/server/observations/observations';
import type { RegistrationChange } from '../../lwm2m/server/registration/registration-service';
import type { DeviceManagement } from '../../lwm2m/server/requests/device-management';
import type { Lwm2mRequest, Lwm2mResponse } from '../../lwm2m/server/requests/types';
import type { UpdateJobStore } from '../../store/types';
import type { FirmwareBlockServed } from '../firmware/coap-route';
import type { FirmwareRecord } from '../firmware/types';
import { isTerminal, PATHS, type Job, type JobInput, type UpdateConfig } from './machine';
import type { JobRunner, JobRunnerPort, RequestEffect } from './runner';

/** What the update needs of the firmware repository (FirmwareRepository has it). */
export interface FirmwareCatalog {
  get(id: string): FirmwareRecord | undefined;
  envelopeOf(id: string): Promise<Buffer>;
  payloadOf(id: string): Promise<Buffer>;
}

export interface DevicePortOptions {
  readonly jobs: UpdateJobStore;
  readonly devices: DeviceManagement;
  readonly inventory: DeviceInventory;
  readonly firmware: FirmwareCatalog;
  readonly events: EventBus;
  readonly config: UpdateConfig;
  /** Largest Block1 block of a push; the device may ask for smaller ones (default 1024). */
  readonly pushBlockSize?: number;
  readonly now: () => number;
  readonly log: (line: string) => void;
}

/**
 * The one progress throttle: at most one emission per `intervalMs`, and the last value is
 * never lost (a value that comes too soon is emitted when the interval is over).
 */
export class ProgressThrottle<T> {
  #last = 0;
  #pending: { value: T } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly intervalMs: number,
    private readonly emit: (value: T) => void,
    private readonly now: () => number = Date.now,
  ) {}

  push(value: T): void {
    if (this.#closed) return;
    this.#pending = { value };
    const wait = this.#last + this.intervalMs - this.now();
    if (wait <= 0) this.#flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flush(), wait);
      this.#timer.unref();
    }
  }

  /** Drops what waits; nothing is emitted after this. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = undefined;
  }

  #flush(): void {
    this.#timer = undefined;
    const p = this.#pending;
    if (p === undefined || this.#closed) return;
    this.#pending = undefined;
    this.#last = this.now();
    this.emit(p.value);
  }
}

/** A pull in progress: what the device has fetched of each file of the package. */
interface PullProgress {
  readonly runner: JobRunner;
  /** digest → size. */
  readonly files: ReadonlyMap<string, number>;
  readonly served: Map<string, number>;
  readonly total: number;
}

type PathName = keyof typeof PATHS;

/** Which of PATHS `p` is: by identity first (effects carry PATHS' own values), else by value. */
function pathName(p: LwM2mPath): PathName | undefined {
  for (const [name, value] of Object.entries(PATHS) as Array<[PathName, LwM2mPath]>) if (value === p || pathsEqual(value, p)) return name;
  return undefined;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
}

/** A single resource's value, or a multiple resource's values, of a read or observe answer. */
function valuesOf(res: Lwm2mResponse): { value?: unknown; values?: unknown[] } {
  if ((res.operation !== 'read' && res.operation !== 'observe') || res.content === undefined) return {};
  const c = res.content;
  if (c.kind === 'resource' || c.kind === 'resourceInstance') return { value: c.value };
  if (c.kind === 'multipleResource') return { values: [...(c.instances as ReadonlyMap<number, unknown>).values()] };
  return {};
}

/** The machine input for a value of /5/0/3, /5/0/5 or /3/0/3. */
function inputFor(path: LwM2mPath, res: Lwm2mResponse): JobInput | undefined {
  if (!res.success) return undefined;
  const { value } = valuesOf(res);
  switch (pathName(path)) {
    case 'state': {
      const v = toNumber(value);
      return v === undefined ? undefined : { type: 'stateObserved', state: v };
    }
    case 'result': {
      const v = toNumber(value);
      return v === undefined ? undefined : { type: 'resultObserved', result: v };
    }
    case 'firmwareVersion':
      return typeof value === 'string' ? { type: 'versionRead', version: value } : undefined;
    case 'pkgVersion':
      return typeof value === 'string' ? { type: 'pkgVersionRead', version: value } : undefined;
    default:
      return undefined;
  }
}

/** No usable answer: the device did not answer, or stayed asleep until the push's deadline. */
function isNoAnswer(err: unknown): boolean {
  return isLwm2mFotaError(err) && (err.code === 'ERR_LWM2M_NO_RESPONSE' || err.code === 'ERR_LWM2M_DEVICE_ASLEEP' || err.code.startsWith('ERR_COAP_'));
}

export class DevicePort {
  readonly #o: DevicePortOptions;
  /** Pulls in progress, by endpoint. */
  readonly #pulls = new Map<string, PullProgress>();

  constructor(
    options: DevicePortOptions,
    private readonly runnerOf: (endpoint: string) => JobRunner | undefined,
  ) {
    this.#o = options;
  }

  /** The port of one runner; `stepped` is the service's own follow-up after each step. */
  portFor(runner: () => JobRunner, stepped: (job: Job, input: JobInput | undefined) => void): JobRunnerPort {
    return {
      persist: (j) => this.#o.jobs.put(j),
      perform: (j, effect, feed, signal) => this.#perform(j, effect, feed, signal),
      publish: <K extends UpdateEventName>(j: Job, type: K, data: EventMap[K]) => {
        // Transitions carry the delivery method while there is one (the CLI shows it).
        const m = 'method' in j.state ? j.state.method : undefined;
        const withMethod: EventMap[K] = data.method === undefined && m !== undefined ? { ...data, method: m } : data;
        // EventInput<K> is a union over K that a generic K cannot be matched against; the
        // signature above (name and data from the map) is what checks the publisher.
        const event = { type, endpoint: j.endpoint, data: withMethod } as unknown as EventInput<K>;
        this.#o.events.publish(event).catch((err: unknown) => this.#o.log(`event ${type} not recorded: ${(err as Error).message}`));
      },
      stepped: (j, _step, input) => {
        this.#stepped(runner(), j, input);
        stepped(j, input);
      },
      now: this.#o.now,
      log: this.#o.log,
    };
  }

  /** A registration change of a device with an active job → its input. */
  onRegistration(c: RegistrationChange): void {
    const runner = this.runnerOf(c.registration.endpoint);
    if (runner === undefined) return;
    switch (c.type) {
      case 'registered':
      case 'updated':
        runner.feed({ type: c.type });
        return;
      case 'deregistered':
      case 'expired':
        runner.feed({ type: 'deregistered', ...(c.type === 'expired' ? { expired: true } : {}) });
        return;
    }
  }

  onNotification(n: Notification): void {
    const runner = this.runnerOf(n.endpoint);
    if (runner === undefined || n.kind !== 'single' || n.paths[0] === undefined || !n.response.success) return;
    const input = inputFor(n.paths[0], n.response);
    if (input !== undefined) runner.feed(input);
  }

  /** A block the /fw route served: delivery progress of the device that pulls it. O(1). */
  onBlockServed(b: FirmwareBlockServed): void {
    if (this.#pulls.size === 0) return;
    const endpoint = this.#o.devices.endpointAt(b.peer);
    const p = endpoint === undefined ? undefined : this.#pulls.get(endpoint);
    if (p === undefined || !p.files.has(b.digest)) return;
    if (b.end > (p.served.get(b.digest) ?? 0)) p.served.set(b.digest, b.end);
    p.runner.noteBlockSize(b.blockSize);
    let bytes = 0;
    for (const v of p.served.values()) bytes += v;
    p.runner.feed({ type: 'blockProgress', bytes, total: p.total });
  }

  close(): void {
    this.#pulls.clear();
  }

  /** After each step: pull progress follows the delivery, versions go to the inventory. */
  #stepped(runner: JobRunner, job: Job, input: JobInput | undefined): void {
    const inventory = this.#o.inventory;
    if (input?.type === 'versionRead') inventory.record(job.endpoint, input.version);
    const s = job.state;
    if (s.value === 'delivering' && s.method === 'pull') {
      const p = this.#pulls.get(job.endpoint);
      if (p === undefined || p.runner !== runner) this.#pulls.set(job.endpoint, this.#newPull(runner, job));
      // A new delivery of the same job (redelivery): count again from zero.
      else if (!s.started) p.served.clear();
    } else if (this.#pulls.get(job.endpoint)?.runner === runner) {
      this.#pulls.delete(job.endpoint);
    }
    if (!isTerminal(s)) return;
    // Confirmed by /3/0/3, the version is known; confirmed by another check it is not: read it.
    if (s.value === 'succeeded' && (s.confirmedBy ?? 'firmwareVersion') === 'firmwareVersion') inventory.record(job.endpoint, s.version);
    else if (s.value === 'failed' && s.version !== undefined) inventory.record(job.endpoint, s.version);
    // What runs now: the old firmware, normally. Read it again once the runner is done.
    else void runner.idle().then(() => inventory.refresh(job.endpoint));
  }

  /** The files of a pull and their sizes: the envelope and its stored images, or the payload alone. */
  #newPull(runner: JobRunner, job: Job): PullProgress {
    const files = new Map<string, number>();
    const fw = this.#o.firmware.get(job.firmwareId);
    if (fw !== undefined && job.payloadOnly) {
      if (fw.payload !== null) files.set(fw.payload.digest, fw.payload.size);
    } else if (fw !== undefined) {
      files.set(fw.id, fw.size);
      for (const i of fw.images) if (i.stored && i.digest !== null && i.size !== null) files.set(i.digest, i.size);
    }
    let total = 0;
    for (const v of files.values()) total += v;
    return { runner, files, served: new Map(), total };
  }

  async #perform(job: Job, effect: RequestEffect, feed: (input: JobInput) => void, signal: AbortSignal): Promise<void> {
    const ep = job.endpoint;
    const ask = (req: Lwm2mRequest): Promise<Lwm2mResponse> => this.#o.devices.request(ep, req, { signal });
    try {
      switch (effect.type) {
        case 'observe': {
          const res = (await this.#observe(ep, effect.path, signal)) ?? (await ask({ operation: 'read', path: effect.path }));
          const input = inputFor(effect.path, res);
          if (input !== undefined) feed(input);
          return;
        }
        case 'unobserve':
          await this.#unobserve(ep, effect.path);
          return;
        case 'readState':
        case 'readResult':
        case 'readFirmwareVersion':
        case 'readPkgVersion': {
          const input = inputFor(effect.path, await ask({ operation: 'read', path: effect.path }));
          if (input !== undefined) feed(input);
          return;
        }
        case 'readCapabilities':
          feed(await this.#capabilities(ep, ask));
          return;
        case 'writePackageUri': {
          const a = await ask({ operation: 'write', mode: 'replace', path: effect.path, node: resource(1, 'string', effect.uri) });
          feed({ type: 'writeAnswered', write: 'packageUri', code: a.code });
          return;
        }
        case 'writeEmptyUri': {
          const a = await ask({ operation: 'write', mode: 'replace', path: effect.path, node: resource(1, 'string', '') });
          feed(effect.purpose === 'reset' ? { type: 'writeAnswered', write: 'reset', code: a.code } : { type: 'cancelAnswered', code: a.code });
          return;
        }
        case 'executeUpdate':
        case 'executeCancel': {
          const a = await ask({ operation: 'execute', path: effect.path });
          feed(effect.type === 'executeUpdate' ? { type: 'executeAnswered', code: a.code } : { type: 'cancelAnswered', code: a.code });
          return;
        }
        case 'pushPackage':
          await this.#push(job, effect, feed, signal);
          return;
      }
    } catch (err) {
      if (signal.aborted || isLwm2mFotaError(err, 'ERR_LWM2M_ABORTED')) return;
      if (isNoAnswer(err)) {
        feed({ type: 'contactLost', request: `${effect.type} ${'path' in effect ? String(effect.path) : ''}`.trim() });
        return;
      }
      if (isLwm2mFotaError(err, 'ERR_LWM2M_NOT_REGISTERED')) return; // its next Register is an input
      this.#o.log(`update ${job.id} (${ep}): ${effect.type}: ${(err as Error).message}`);
    }
  }

  async #capabilities(ep: string, ask: (req: Lwm2mRequest) => Promise<Lwm2mResponse>): Promise<JobInput> {
    const dm = await ask({ operation: 'read', path: PATHS.deliveryMethod });
    const pr = await ask({ operation: 'read', path: PATHS.protocols });
    const deliveryMethod = dm.success ? toNumber(valuesOf(dm).value) : undefined;
    const p = valuesOf(pr);
    const protocols = pr.success ? (p.values ?? (p.value === undefined ? [] : [p.value])).map(toNumber).filter((x): x is number => x !== undefined) : undefined;
    let hasCancel = false;
    try {
      hasCancel = this.#o.devices.context(ep).model.getResource(5, 10) !== undefined;
    } catch {
      hasCancel = false;
    }
    return {
      type: 'capabilitiesRead',
      ...(deliveryMethod === undefined ? {} : { deliveryMethod }),
      ...(protocols === undefined ? {} : { protocols }),
      hasCancel,
    };
  }

  /**
   * Observe, unless an observation of `path` of the current registration is live (then
   * undefined: the caller reads, the first answer must come either way).
   */
  async #observe(endpoint: string, path: LwM2mPath, signal: AbortSignal): Promise<Lwm2mResponse | undefined> {
    const ctx = this.#o.devices.context(endpoint);
    const text = formatPath(path);
    const live = this.#o.devices.observations.list(endpoint).some((o) => o.registrationId === ctx.registrationId && o.kind === 'single' && o.paths[0] === text);
    if (live) return undefined;
    const res = await this.#o.devices.request(endpoint, { operation: 'observe', path }, { signal });
    return res.success ? res : undefined;
  }

  async #unobserve(endpoint: string, path: LwM2mPath): Promise<void> {
    const text = formatPath(path);
    for (const o of this.#o.devices.observations.list(endpoint)) {
      if (o.kind !== 'single' || o.paths[0] !== text) continue;
      try {
        await this.#o.devices.cancelObservation(o.token);
      } catch {
        // already gone
      }
    }
  }

  /**
   * Push: the whole package as a block-wise Write of Package (/5/0/0), once the device
   * listens, under one deadline (the delivery timer's), starting at `pushBlockSize` and
   * following the device's smaller size (2.31 with a smaller SZX, or 4.13 with a hint).
   * Progress per acknowledged block, with the block size; the final answer is
   * `deliveryFinished`. Aborting stops before the next block.
   */
  async #push(job: Job, effect: Extract<RequestEffect, { type: 'pushPackage' }>, feed: (input: JobInput) => void, signal: AbortSignal): Promise<void> {
    const ep = job.endpoint;
    const payload = effect.payloadOnly ? await this.#o.firmware.payloadOf(job.firmwareId) : await this.#o.firmware.envelopeOf(job.firmwareId);
    const s = job.state;
    const deadline = 'timer' in s && s.timer !== undefined && s.timer.name === 'delivery' ? s.timer.at : this.#o.now() + this.#o.config.timeouts.delivery;
    await this.#o.devices.whenAwake(ep, { signal, timeoutMs: Math.max(0, deadline - this.#o.now()) });
    if (signal.aborted) return;
    const runner = this.runnerOf(ep);
    const res = await this.#o.devices.perform(
      ep,
      { operation: 'write', mode: 'replace', path: effect.path, node: resource(0, 'opaque', payload) },
      {
        blockSize: this.#o.pushBlockSize ?? 1024,
        timeoutMs: Math.max(1000, deadline - this.#o.now()),
        signal,
        onProgress: (p) => {
          runner?.noteBlockSize(p.blockSize);
          feed({ type: 'blockProgress', bytes: p.sent, total: p.total });
        },
      },
    );
    if (signal.aborted) return;
    feed({ type: 'deliveryFinished', code: res.code });
  }
}

/**
 * The update service the server owns: it starts, cancels and reports update jobs, runs one
 * {@link JobRunner} per active job, and is the runners' port to the world:
 *
 * - effects → LwM2M operations through DeviceManagement (Read / Write / Execute / Observe
 *   of /5 and /3/0/3; requests for a sleeping queue-mode device wait in its queue and
 *   their answers are fed when they come) and Block1 pushes of the package to /5/0/0;
 * - the device's notifications of /5/0/3 and /5/0/5, its registrations (Register after a
 *   reboot, Update after a sleep, De-register, expiry), the Block2 requests it sends to
 *   `/fw/<digest>` while it pulls, and the timers → machine inputs;
 * - every transition → the event stream (`updateQueued` … `updateSucceeded`), progress
 *   throttled (`updateProgressed`);
 * - at start-up every active job is resumed from the store.
 *
 * It also keeps each device's running firmware version (/3/0/3), read after it registers
 * and after each update, for `GET /api/devices/:ep`.
 */
import { randomUUID } from 'node:crypto';
import type { CoapEndpoint, IncomingRequest, Peer } from '../../coap/types';
import { isLwm2mFotaError, Lwm2mFotaError } from '../../errors';
import type { EventBus } from '../../events';
import { resource } from '../../lwm2m/core/content-formats';
import { formatPath, pathsEqual, type LwM2mPath } from '../../lwm2m/core/model';
import type { DeviceManagement } from '../../lwm2m/server/requests/device-management';
import type { Notification } from '../../lwm2m/server/observations/observations';
import { uriPath } from '../../lwm2m/server/requests/build';
import type { Lwm2mRequest, Lwm2mResponse } from '../../lwm2m/server/requests/types';
import type { RegistrationChange, RegistrationService } from '../../lwm2m/server/registration/registration-service';
import type { UpdateJobStore } from '../../store/types';
import type { FirmwareRecord } from '../firmware/types';
import {
  canCancel,
  createJob,
  DEFAULT_UPDATE_CONFIG,
  isTerminal,
  PATHS,
  resumeJob,
  type Job,
  type JobInput,
  type JobStep,
  type UpdateConfig,
  type UpdateTimeouts,
  type ConfirmBy,
} from './machine';
import { confirmForClass, type ConfirmByClass } from './confirm-by';
import { firmwareFileUri, packageHostFor } from './package-uri';
import { JobRunner, type JobRunnerPort, type RequestEffect } from './runner';

/** What the service needs of the firmware repository (FirmwareRepository has it). */
export interface FirmwareCatalog {
  get(id: string): FirmwareRecord | undefined;
  envelopeOf(id: string): Promise<Buffer>;
  payloadOf(id: string): Promise<Buffer>;
}

export type UpdateConfigOverrides = Partial<Omit<UpdateConfig, 'timeouts'>> & { readonly timeouts?: Partial<UpdateTimeouts> };

export interface UpdateServiceOptions {
  readonly jobs: UpdateJobStore;
  readonly devices: DeviceManagement;
  readonly registrations: RegistrationService;
  /** The server's CoAP endpoint: pushes leave from it, pull URIs name its port. */
  readonly coap: CoapEndpoint;
  readonly firmware: FirmwareCatalog;
  readonly events: EventBus;
  /** Retries, backoff and timeouts (default DEFAULT_UPDATE_CONFIG). */
  readonly config?: UpdateConfigOverrides;
  /** Host name or address devices fetch firmware from (default: inferred per device, see package-uri.ts). */
  readonly packageHost?: string;
  /** Port in pull URIs (default: the endpoint's port). */
  readonly packagePort?: number;
  /** Largest Block1 block of a push; the device may ask for smaller ones (default 1024). */
  readonly pushBlockSize?: number;
  /** At most one `updateProgressed` event per job per this many ms (default 1000). */
  readonly progressIntervalMs?: number;
  /** What confirms success per device class (class ID or name), for jobs that do not say. */
  readonly confirmByClass?: ConfirmByClass;
  readonly now?: () => number;
  readonly log?: (line: string) => void;
}

export interface StartUpdateOptions {
  /** The firmware id (SHA-256 hex of the envelope). */
  readonly firmwareId: string;
  /** Override the delivery method the device's /5/0/9 would choose. */
  readonly method?: 'pull' | 'push';
  /** Deliver the manifest's payload alone (devices that take raw images). */
  readonly payloadOnly?: boolean;
  /** What confirms success (default: the device class's choice, else 'firmwareVersion'). */
  readonly confirm?: ConfirmBy;
  /** This job's contact timeout in ms (0 = wait for ever; default: the configuration's). */
  readonly contactTimeout?: number;
}

/** What a device answered, reduced to what the machine reads. */
interface Answer {
  readonly code: string;
  readonly success: boolean;
  /** A single resource's value. */
  readonly value?: unknown;
  /** A multiple resource's values. */
  readonly values?: readonly unknown[];
}

/** A pull in progress: what the device has fetched of each file of the package. */
interface PullProgress {
  readonly runner: JobRunner;
  /** digest → size. */
  readonly files: ReadonlyMap<string, number>;
  readonly served: Map<string, number>;
  readonly total: number;
  lastFedAt: number;
}

const FEED_INTERVAL_MS = 200;
const VERSION_READS_IN_FLIGHT = 16;
/** Version reads queued without a waiter (see #readVersionLater). */
const VERSION_QUEUE_LIMIT = 10_000;
const VERSION_PATH = PATHS.firmwareVersion;

function mergeConfig(o: UpdateConfigOverrides | undefined): UpdateConfig {
  if (o === undefined) return DEFAULT_UPDATE_CONFIG;
  return { ...DEFAULT_UPDATE_CONFIG, ...o, timeouts: { ...DEFAULT_UPDATE_CONFIG.timeouts, ...o.timeouts } };
}

function peerKey(p: Peer): string {
  return `${p.address}|${p.port}`;
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = (): void => reject(new Lwm2mFotaError('ERR_COAP_CLOSED', 'aborted'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
}

/** The value(s) of a read or observe answer, from a decoded node. */
function answerOf(res: Lwm2mResponse): Answer {
  const out: { code: string; success: boolean; value?: unknown; values?: unknown[] } = { code: res.code, success: res.success };
  if ((res.operation === 'read' || res.operation === 'observe') && res.content !== undefined) {
    const c = res.content;
    if (c.kind === 'resource' || c.kind === 'resourceInstance') out.value = c.value;
    else if (c.kind === 'multipleResource') out.values = [...(c.instances as ReadonlyMap<number, unknown>).values()];
  }
  return out;
}

/** The same from the JSON of a queued request's result. */
function answerOfJson(result: Readonly<Record<string, unknown>>): Answer {
  const code = typeof result['code'] === 'string' ? result['code'] : '5.00';
  const out: { code: string; success: boolean; value?: unknown; values?: unknown[] } = { code, success: result['success'] === true };
  const content = result['content'] as { kind?: string; value?: unknown; instances?: Record<string, unknown> } | undefined;
  if (content?.kind === 'resource' || content?.kind === 'resourceInstance') out.value = content.value;
  else if (content?.kind === 'multipleResource' && content.instances !== undefined) out.values = Object.values(content.instances);
  return out;
}

function isNoAnswer(err: unknown): boolean {
  return isLwm2mFotaError(err) && (err.code === 'ERR_LWM2M_NO_RESPONSE' || err.code.startsWith('ERR_COAP_'));
}

export class UpdateService {
  readonly config: UpdateConfig;
  readonly #o: UpdateServiceOptions;
  readonly #now: () => number;
  readonly #log: (line: string) => void;
  /** Active jobs by endpoint. */
  readonly #runners = new Map<string, JobRunner>();
  /** Endpoints whose job is being created (conflict guard while the store commits). */
  readonly #starting = new Set<string>();
  /** Pulls in progress by the device's address and port. */
  readonly #pulls = new Map<string, PullProgress>();
  readonly #pullKeyOf = new Map<JobRunner, string>();
  /** Push progress feed throttling, per runner. */
  readonly #pushFedAt = new WeakMap<JobRunner, number>();
  /** /3/0/3 as last read, by endpoint. */
  readonly #versions = new Map<string, string>();
  /** Devices whose /3/0/3 is to be read, oldest first. */
  readonly #versionPending = new Set<string>();
  /** Devices being asked now. */
  readonly #versionReading = new Set<string>();
  readonly #versionWaiters = new Map<string, Array<(version: string | undefined) => void>>();
  #versionActive = 0;
  readonly #stepWaiters = new Map<JobInput, { runner: JobRunner; resolve: (job: Job) => void }>();
  readonly #unsubscribe: Array<() => void> = [];
  #closed = false;

  private constructor(options: UpdateServiceOptions) {
    this.#o = options;
    this.config = mergeConfig(options.config);
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? (() => {});
  }

  /**
   * Starts the service: follows registrations and notifications, then resumes every
   * active job of the store (resume rules in machine.ts).
   */
  static async start(options: UpdateServiceOptions): Promise<UpdateService> {
    const s = new UpdateService(options);
    s.#unsubscribe.push(options.registrations.onChange((c) => s.#onRegistration(c)));
    s.#unsubscribe.push(options.devices.observations.subscribe((n) => s.#onNotification(n)));
    for (const rec of await options.jobs.listActive()) {
      const job = rec as Job;
      const runner = s.#runner(job);
      s.#runners.set(job.endpoint, runner);
      try {
        await runner.begin(resumeJob(job, s.#now(), s.config));
      } catch (err) {
        s.#runners.delete(job.endpoint);
        runner.close();
        s.#log(`update ${job.id} (${job.endpoint}): not resumed: ${(err as Error).message}`);
      }
    }
    return s;
  }

  // ---------------------------------------------------------------------------------------
  // Operator surface

  /**
   * Starts updating `endpoint` to a firmware of the repository.
   *
   * @throws Lwm2mFotaError ERR_FOTA_JOB_CONFLICT (an active job exists),
   *   ERR_FOTA_FIRMWARE_NOT_FOUND, ERR_FOTA_IMAGE_MISSING (payloadOnly without a stored
   *   payload), ERR_FOTA_VERSION_UNKNOWN (the manifest announces no version),
   *   ERR_LWM2M_NOT_REGISTERED, ERR_FOTA_UNSUPPORTED_DELIVERY (no object 5), ERR_STORE_WRITE.
   */
  async start(endpoint: string, options: StartUpdateOptions): Promise<Job> {
    this.#checkOpen();
    if (this.#runners.has(endpoint) || this.#starting.has(endpoint)) throw conflict(endpoint);
    const fw = this.#o.firmware.get(options.firmwareId);
    if (fw === undefined) {
      throw new Lwm2mFotaError('ERR_FOTA_FIRMWARE_NOT_FOUND', `no firmware ${options.firmwareId}`, { context: { firmware: options.firmwareId } });
    }
    if (fw.version === null) {
      throw new Lwm2mFotaError('ERR_FOTA_VERSION_UNKNOWN', `firmware ${fw.id} announces no version (suit-text-component-version): the update could not be confirmed`, {
        context: { firmware: fw.id },
      });
    }
    const payloadOnly = options.payloadOnly === true;
    if (payloadOnly && fw.payload === null) {
      throw new Lwm2mFotaError('ERR_FOTA_IMAGE_MISSING', `firmware ${fw.id} has no stored payload to deliver alone (add it with --image)`, { context: { firmware: fw.id } });
    }
    const registration = this.#o.registrations.get(endpoint);
    if (registration === undefined) {
      throw new Lwm2mFotaError('ERR_LWM2M_NOT_REGISTERED', `device ${endpoint} is not registered`, { context: { endpoint } });
    }
    const ctx = this.#o.devices.context(endpoint);
    if (ctx.model.getObject(5) === undefined || !ctx.objectLinks.some((l) => l === '/5' || l.startsWith('/5/'))) {
      throw new Lwm2mFotaError('ERR_FOTA_UNSUPPORTED_DELIVERY', `${endpoint} has no Firmware Update object (/5) in its registration, or the server's object model lacks it`, {
        context: { endpoint },
      });
    }
    const confirm = options.confirm ?? confirmForClass(this.#o.confirmByClass, fw);
    const digest = payloadOnly ? (fw.payload as { digest: string }).digest : fw.id;
    const host = this.#o.packageHost ?? packageHostFor(registration.address, this.#o.coap.address().address);
    const port = this.#o.packagePort ?? this.#o.coap.address().port;
    const step = createJob({
      id: randomUUID(),
      endpoint,
      firmwareId: fw.id,
      expectedVersion: fw.version,
      ...(options.method === undefined ? {} : { method: options.method }),
      payloadOnly,
      packageUris: { coap: firmwareFileUri(host, port, digest) },
      ...(confirm === undefined ? {} : { confirm }),
      ...(options.contactTimeout === undefined ? {} : { contactTimeout: options.contactTimeout }),
      now: this.#now(),
      config: this.config,
    });
    this.#starting.add(endpoint);
    const runner = this.#runner(step.job);
    // In the map before the first effect leaves: answers and registrations find it.
    this.#runners.set(endpoint, runner);
    try {
      await runner.begin(step);
    } catch (err) {
      if (this.#runners.get(endpoint) === runner) this.#runners.delete(endpoint);
      runner.close();
      if (isLwm2mFotaError(err, 'ERR_STORE_WRITE') && err.context['reason'] === 'activeJobExists') throw conflict(endpoint);
      throw err;
    } finally {
      this.#starting.delete(endpoint);
    }
    return runner.job;
  }

  /**
   * Cancels the endpoint's active job (Cancel /5/0/10 where the device has it, else an
   * empty Package URI); resolves with the job once the cancel was applied (`cancelling`
   * while the device confirms, or `cancelled`).
   *
   * @throws Lwm2mFotaError ERR_FOTA_JOB_NOT_FOUND (no active job), ERR_FOTA_CANCEL_TOO_LATE
   *   (Update was already executed).
   */
  async cancel(endpoint: string): Promise<Job> {
    this.#checkOpen();
    const runner = this.#runners.get(endpoint);
    if (runner === undefined) throw new Lwm2mFotaError('ERR_FOTA_JOB_NOT_FOUND', `no active update for ${endpoint}`, { context: { endpoint } });
    if (!canCancel(runner.job.state)) {
      throw new Lwm2mFotaError('ERR_FOTA_CANCEL_TOO_LATE', `the update of ${endpoint} is ${runner.job.state.value}: Update was executed and the installation cannot be cancelled`, {
        context: { endpoint },
      });
    }
    const input: JobInput = { type: 'cancel' };
    // Resolved when the cancel is applied, or when an input before it ends the job.
    const applied = new Promise<Job>((resolve) => this.#stepWaiters.set(input, { runner, resolve }));
    runner.feed(input);
    const timeout = new Promise<Job>((resolve) => setTimeout(() => resolve(runner.job), 5000).unref());
    const job = await Promise.race([applied, timeout]);
    this.#stepWaiters.delete(input);
    return job;
  }

  /** The endpoint's active job, else its most recent one. */
  async current(endpoint: string): Promise<Job | undefined> {
    const r = this.#runners.get(endpoint);
    if (r !== undefined) return r.job;
    const [last] = await this.#o.jobs.listByEndpoint(endpoint, 1);
    return last as Job | undefined;
  }

  /** The endpoint's jobs, newest first. */
  async jobsOf(endpoint: string, limit = 20): Promise<Job[]> {
    const list = (await this.#o.jobs.listByEndpoint(endpoint, limit)) as Job[];
    return list.map((j) => this.#runners.get(endpoint)?.job.id === j.id ? (this.#runners.get(endpoint) as JobRunner).job : j);
  }

  /** Recent jobs of every device, newest first (active ones as they are now). */
  async list(limit = 100): Promise<Job[]> {
    const list = (await this.#o.jobs.listRecent(limit)) as Job[];
    return list.map((j) => {
      const r = this.#runners.get(j.endpoint);
      return r !== undefined && r.job.id === j.id ? r.job : j;
    });
  }

  /** Active jobs, as they are now. */
  active(): Job[] {
    return [...this.#runners.values()].map((r) => r.job);
  }

  /** Resolves when the endpoint's runner has nothing to do (tests). */
  async idle(endpoint: string): Promise<void> {
    await this.#runners.get(endpoint)?.idle();
  }

  /**
   * The firmware version (/3/0/3) the device runs, as last read. With `read`, a device that
   * listens and whose version is not known yet is asked (at most `timeoutMs`).
   */
  async firmwareVersion(endpoint: string, options: { read?: boolean; timeoutMs?: number } = {}): Promise<string | undefined> {
    const known = this.#versions.get(endpoint);
    if (known !== undefined || options.read !== true) return known;
    if (!this.#o.devices.isAwake(endpoint)) return undefined;
    const read = this.#readVersion(endpoint);
    const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), options.timeoutMs ?? 2000).unref());
    return Promise.race([read, timeout]);
  }

  /**
   * The hook of the `/fw/<digest>` CoAP route: a device's Block2 request while it pulls
   * is delivery progress. O(1) per request.
   */
  onFirmwareRequest(req: IncomingRequest): void {
    if (this.#pulls.size === 0 || req.method !== 'GET') return;
    const p = this.#pulls.get(peerKey(req.peer));
    if (p === undefined) return;
    const digest = req.path[1];
    const size = digest === undefined ? undefined : p.files.get(digest);
    if (digest === undefined || size === undefined) return;
    const block = req.block2 ?? { num: 0, size: 1024 };
    const end = Math.min(size, (block.num + 1) * block.size);
    if (end > (p.served.get(digest) ?? 0)) p.served.set(digest, end);
    p.runner.noteBlockSize(block.size);
    const now = this.#now();
    let bytes = 0;
    for (const v of p.served.values()) bytes += v;
    if (now - p.lastFedAt < FEED_INTERVAL_MS && bytes < p.total) return;
    p.lastFedAt = now;
    p.runner.feed({ type: 'blockProgress', bytes, total: p.total });
  }

  /** Stops every runner (jobs stay in the store and resume at the next start). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const u of this.#unsubscribe) u();
    for (const r of this.#runners.values()) r.close();
    this.#runners.clear();
    this.#pulls.clear();
  }

  // ---------------------------------------------------------------------------------------
  // Runners and their port

  #runner(job: Job): JobRunner {
    const port: JobRunnerPort = {
      persist: (j) => this.#o.jobs.put(j),
      perform: (j, effect, feed, signal) => this.#perform(j, effect, feed, signal),
      publish: (j, type, data) => {
        // Transitions carry the delivery method while there is one (the CLI shows it).
        const m = (j.state as { method?: unknown }).method;
        if (data['method'] === undefined && (m === 'pull' || m === 'push')) data = { ...data, method: m };
        this.#o.events.publish({ type, endpoint: j.endpoint, data }).catch((err: unknown) => this.#log(`event ${type} not recorded: ${(err as Error).message}`));
      },
      stepped: (j, step, input) => this.#stepped(runner, j, step, input),
      now: this.#now,
      log: this.#log,
    };
    const runner: JobRunner = new JobRunner(job, port, {
      config: this.config,
      ...(this.#o.progressIntervalMs === undefined ? {} : { progressIntervalMs: this.#o.progressIntervalMs }),
    });
    return runner;
  }

  #stepped(runner: JobRunner, job: Job, _step: JobStep, input: JobInput | undefined): void {
    for (const [waited, w] of this.#stepWaiters) {
      if (waited !== input && !(w.runner === runner && isTerminal(job.state))) continue;
      this.#stepWaiters.delete(waited);
      w.resolve(job);
    }
    if (input !== undefined) {
      if (input.type === 'versionRead') this.#versions.set(job.endpoint, input.version.trim());
    }
    const s = job.state;
    // Pull progress follows the device's address while it pulls.
    const pulling = s.value === 'delivering' && s.method === 'pull';
    const oldKey = this.#pullKeyOf.get(runner);
    if (pulling) {
      const reg = this.#o.registrations.get(job.endpoint);
      const key = reg === undefined ? undefined : peerKey(reg);
      if (key !== oldKey) {
        if (oldKey !== undefined) this.#pulls.delete(oldKey);
        this.#pullKeyOf.delete(runner);
        if (key !== undefined) {
          const files = this.#pullFiles(job);
          let total = 0;
          for (const v of files.values()) total += v;
          this.#pulls.set(key, { runner, files, served: new Map(), total, lastFedAt: 0 });
          this.#pullKeyOf.set(runner, key);
        }
      } else if (key !== undefined && !s.started) {
        // A new delivery of the same job (redelivery): count again from zero.
        this.#pulls.get(key)?.served.clear();
      }
    } else if (oldKey !== undefined) {
      this.#pulls.delete(oldKey);
      this.#pullKeyOf.delete(runner);
    }
    if (isTerminal(s)) {
      if (this.#runners.get(job.endpoint) === runner) this.#runners.delete(job.endpoint);
      // Confirmed by /3/0/3, the version is known; confirmed by another check it is not: read it.
      if (s.value === 'succeeded' && (s.confirmedBy ?? 'firmwareVersion') === 'firmwareVersion') this.#versions.set(job.endpoint, s.version.trim());
      else if (s.value === 'failed' && s.version !== undefined) this.#versions.set(job.endpoint, s.version.trim());
      else {
        // What runs now: the old firmware, normally. Read it again once the runner is done.
        void runner.idle().then(() => {
          if (!this.#closed && this.#o.devices.isAwake(job.endpoint)) this.#readVersionLater(job.endpoint);
        });
      }
      void runner.idle().then(() => runner.close());
    }
  }

  /** The files of a pull and their sizes: the envelope and its stored images, or the payload alone. */
  #pullFiles(job: Job): Map<string, number> {
    const files = new Map<string, number>();
    const fw = this.#o.firmware.get(job.firmwareId);
    if (fw === undefined) return files;
    if (job.payloadOnly) {
      if (fw.payload !== null) files.set(fw.payload.digest, fw.payload.size);
      return files;
    }
    files.set(fw.id, fw.size);
    for (const i of fw.images) if (i.stored && i.digest !== null && i.size !== null) files.set(i.digest, i.size);
    return files;
  }

  #onRegistration(c: RegistrationChange): void {
    const ep = c.registration.endpoint;
    const runner = this.#runners.get(ep);
    switch (c.type) {
      case 'registered':
        if (runner !== undefined) runner.feed({ type: 'registered' });
        else if (!this.#closed) this.#readVersionLater(ep);
        return;
      case 'updated':
        if (runner !== undefined) runner.feed({ type: 'updated' });
        else if (!this.#versions.has(ep) && !this.#closed) this.#readVersionLater(ep);
        return;
      case 'deregistered':
      case 'expired':
        runner?.feed({ type: 'deregistered', ...(c.type === 'expired' ? { expired: true } : {}) });
        return;
    }
  }

  #onNotification(n: Notification): void {
    const runner = this.#runners.get(n.endpoint);
    if (runner === undefined || n.kind !== 'single' || n.paths[0] === undefined || !n.response.success) return;
    const input = inputFor(n.paths[0], answerOf(n.response));
    if (input !== undefined) runner.feed(input);
  }

  async #perform(job: Job, effect: RequestEffect, feed: (input: JobInput) => void, signal: AbortSignal): Promise<void> {
    const ep = job.endpoint;
    try {
      switch (effect.type) {
        case 'observe': {
          const answer = (await this.#observe(ep, effect.path, signal)) ?? (await this.#ask(ep, { operation: 'read', path: effect.path }, signal));
          const input = inputFor(effect.path, answer);
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
          const input = inputFor(effect.path, await this.#ask(ep, { operation: 'read', path: effect.path }, signal));
          if (input !== undefined) feed(input);
          return;
        }
        case 'readCapabilities': {
          const dm = await this.#ask(ep, { operation: 'read', path: PATHS.deliveryMethod }, signal);
          const pr = await this.#ask(ep, { operation: 'read', path: PATHS.protocols }, signal);
          const deliveryMethod = dm.success ? toNumber(dm.value) : undefined;
          const protocols = pr.success ? (pr.values ?? (pr.value === undefined ? [] : [pr.value])).map(toNumber).filter((x): x is number => x !== undefined) : undefined;
          let hasCancel = false;
          try {
            hasCancel = this.#o.devices.context(ep).model.getResource(5, 10) !== undefined;
          } catch {
            hasCancel = false;
          }
          feed({
            type: 'capabilitiesRead',
            ...(deliveryMethod === undefined ? {} : { deliveryMethod }),
            ...(protocols === undefined ? {} : { protocols }),
            hasCancel,
          });
          return;
        }
        case 'writePackageUri': {
          const a = await this.#ask(ep, { operation: 'write', mode: 'replace', path: effect.path, node: resource(1, 'string', effect.uri) }, signal);
          feed({ type: 'writeAnswered', write: 'packageUri', code: a.code });
          return;
        }
        case 'writeEmptyUri': {
          const a = await this.#ask(ep, { operation: 'write', mode: 'replace', path: effect.path, node: resource(1, 'string', '') }, signal);
          feed(effect.purpose === 'reset' ? { type: 'writeAnswered', write: 'reset', code: a.code } : { type: 'cancelAnswered', code: a.code });
          return;
        }
        case 'executeUpdate': {
          const a = await this.#ask(ep, { operation: 'execute', path: effect.path }, signal);
          feed({ type: 'executeAnswered', code: a.code });
          return;
        }
        case 'executeCancel': {
          const a = await this.#ask(ep, { operation: 'execute', path: effect.path }, signal);
          feed({ type: 'cancelAnswered', code: a.code });
          return;
        }
        case 'pushPackage':
          await this.#push(job, effect.payloadOnly, feed, signal);
          return;
      }
    } catch (err) {
      if (signal.aborted) return;
      if (isNoAnswer(err)) {
        feed({ type: 'contactLost', request: `${effect.type} ${'path' in effect ? formatPath(effect.path) : ''}`.trim() });
        return;
      }
      if (isLwm2mFotaError(err, 'ERR_LWM2M_NOT_REGISTERED')) return; // its next Register is an input
      this.#log(`update ${job.id} (${ep}): ${effect.type}: ${(err as Error).message}`);
    }
  }

  /** One operation now, or queued for a sleeping device (its answer when it wakes up). */
  async #ask(endpoint: string, req: Lwm2mRequest, signal: AbortSignal): Promise<Answer> {
    const r = await Promise.race([this.#o.devices.submit(endpoint, req), aborted(signal)]);
    if (!r.queued) return answerOf(r.response);
    const done = await Promise.race([this.#o.devices.queue.whenFinished(r.request.id), aborted(signal)]);
    if (done.state === 'completed' && done.result !== undefined) return answerOfJson(done.result);
    throw new Lwm2mFotaError('ERR_LWM2M_NO_RESPONSE', `${endpoint}: queued ${req.operation} ${done.state}: ${done.error?.message ?? ''}`, { context: { endpoint } });
  }

  /**
   * Observe, unless an observation of `path` of the current registration is live (then
   * undefined: the caller reads, the first answer must come either way).
   */
  async #observe(endpoint: string, path: LwM2mPath, signal: AbortSignal): Promise<Answer | undefined> {
    const ctx = this.#o.devices.context(endpoint);
    const live = this.#o.devices.observations.list(endpoint).some((o) => o.registrationId === ctx.registrationId && o.kind === 'single' && o.paths[0] === formatPath(path));
    if (live) return undefined;
    const a = await this.#ask(endpoint, { operation: 'observe', path }, signal);
    return a.success ? a : undefined;
  }

  async #unobserve(endpoint: string, path: LwM2mPath): Promise<void> {
    for (const o of this.#o.devices.observations.list(endpoint)) {
      if (o.kind !== 'single' || o.paths[0] !== formatPath(path)) continue;
      try {
        await this.#o.devices.cancelObservation(o.token);
      } catch {
        // already gone
      }
    }
  }

  /**
   * Push: the whole package as Block1 PUTs to /5/0/0 from the server's own socket, one
   * deadline for the transfer (the delivery timer's), starting at `pushBlockSize` and
   * following the device's smaller size (2.31 with a smaller SZX, or 4.13 with a hint).
   * Progress per acknowledged block; the final answer is `deliveryFinished`. Aborting
   * stops before the next block.
   */
  async #push(job: Job, payloadOnly: boolean, feed: (input: JobInput) => void, signal: AbortSignal): Promise<void> {
    const ep = job.endpoint;
    const payload = payloadOnly ? await this.#o.firmware.payloadOf(job.firmwareId) : await this.#o.firmware.envelopeOf(job.firmwareId);
    const s = job.state;
    const deadline = 'timer' in s && s.timer !== undefined && s.timer.name === 'delivery' ? s.timer.at : this.#now() + this.config.timeouts.delivery;
    await this.#awake(ep, signal, deadline);
    if (signal.aborted) return;
    const ctx = this.#o.devices.context(ep);
    const runner = this.#runners.get(ep);
    const stop = new Lwm2mFotaError('ERR_COAP_CLOSED', 'push stopped');
    const res = await this.#o.coap.request(ctx.peer, {
      method: 'PUT',
      path: uriPath(PATHS.package, ctx.rootPath),
      payload,
      contentFormat: 42,
      block1Size: this.#o.pushBlockSize ?? 1024,
      timeoutMs: Math.max(1000, deadline - this.#now()),
      requestTag: true,
      onProgress: (sent, total) => {
        // The sender calls this between blocks: throwing here ends the transfer.
        if (signal.aborted) throw stop;
        if (runner === undefined) return;
        const now = this.#now();
        if (sent < total && now - (this.#pushFedAt.get(runner) ?? 0) < FEED_INTERVAL_MS) return;
        this.#pushFedAt.set(runner, now);
        feed({ type: 'blockProgress', bytes: sent, total });
      },
    });
    if (signal.aborted) return;
    this.#o.devices.awake.touch(ep);
    feed({ type: 'deliveryFinished', code: res.code });
  }

  /** Waits until a queue-mode device listens (it contacted us), the deadline, or the abort. */
  async #awake(endpoint: string, signal: AbortSignal, deadline: number): Promise<void> {
    while (!signal.aborted && !this.#o.devices.isAwake(endpoint) && this.#now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  // ---------------------------------------------------------------------------------------
  // Firmware versions

  /**
   * Asks the device for /3/0/3, at most VERSION_READS_IN_FLIGHT devices at a time. Devices
   * waiting for a slot are one entry of an insertion-ordered Set (no closure or promise per
   * device: a fleet registering at once queues 100,000 of them); only callers that await a
   * version get a promise.
   */
  #readVersion(endpoint: string): Promise<string | undefined> {
    this.#versionPending.add(endpoint);
    this.#pumpVersionReads();
    return new Promise((resolve) => {
      const list = this.#versionWaiters.get(endpoint);
      if (list === undefined) this.#versionWaiters.set(endpoint, [resolve]);
      else list.push(resolve);
    });
  }

  /**
   * Queues a version read nobody waits for. The queue is bounded: a device that finds it
   * full is read at its next registration update instead (an unknown version is asked for
   * then), so a registration storm costs no memory per device here.
   */
  #readVersionLater(endpoint: string): void {
    if (this.#versionPending.size >= VERSION_QUEUE_LIMIT) return;
    this.#versionPending.add(endpoint);
    this.#pumpVersionReads();
  }

  #pumpVersionReads(): void {
    while (this.#versionActive < VERSION_READS_IN_FLIGHT && this.#versionPending.size > 0 && !this.#closed) {
      const endpoint = this.#versionPending.values().next().value as string;
      this.#versionPending.delete(endpoint);
      if (this.#versionReading.has(endpoint)) continue; // one read per device at a time; it answers the waiters
      this.#versionActive++;
      this.#versionReading.add(endpoint);
      void this.#askVersion(endpoint).finally(() => {
        this.#versionActive--;
        this.#versionReading.delete(endpoint);
        const waiters = this.#versionWaiters.get(endpoint);
        if (waiters !== undefined && !this.#versionPending.has(endpoint)) {
          this.#versionWaiters.delete(endpoint);
          const v = this.#versions.get(endpoint);
          for (const w of waiters) w(v);
        }
        this.#pumpVersionReads();
      });
    }
  }

  async #askVersion(endpoint: string): Promise<void> {
    try {
      if (this.#closed || !this.#o.devices.isAwake(endpoint)) return;
      const res = await this.#o.devices.perform(endpoint, { operation: 'read', path: VERSION_PATH });
      const a = answerOf(res);
      if (a.success && typeof a.value === 'string') this.#versions.set(endpoint, a.value.trim());
    } catch {
      // no answer: the version stays as last known
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new Lwm2mFotaError('ERR_STORE_CLOSED', 'the update service is closed');
  }
}

function conflict(endpoint: string): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_FOTA_JOB_CONFLICT', `an update of ${endpoint} is already running (cancel it first)`, { context: { endpoint } });
}

/** The machine input for a value of /5/0/3, /5/0/5 or /3/0/3. */
function inputFor(path: LwM2mPath, a: Answer): JobInput | undefined {
  if (!a.success) return undefined;
  if (pathsEqual(path, PATHS.state)) {
    const v = toNumber(a.value);
    return v === undefined ? undefined : { type: 'stateObserved', state: v };
  }
  if (pathsEqual(path, PATHS.result)) {
    const v = toNumber(a.value);
    return v === undefined ? undefined : { type: 'resultObserved', result: v };
  }
  if (pathsEqual(path, PATHS.firmwareVersion)) return typeof a.value === 'string' ? { type: 'versionRead', version: a.value } : undefined;
  if (pathsEqual(path, PATHS.pkgVersion)) return typeof a.value === 'string' ? { type: 'pkgVersionRead', version: a.value } : undefined;
  return undefined;
}

/** Wraps the `/fw` route's handler so the update service sees every request first. */
export function withFirmwareRequestHook<H extends (req: IncomingRequest) => unknown>(handler: H, hook: (req: IncomingRequest) => void): H {
  return ((req: IncomingRequest) => {
    try {
      hook(req);
    } catch {
      // progress is best effort
    }
    return handler(req);
  }) as H;
}

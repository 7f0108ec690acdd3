/**
 * The update service the server owns: it starts, cancels and reports update jobs, keeps
 * one {@link JobRunner} per active job (the runner registry), and resumes every active job
 * of the store at start-up. How the runners reach the devices — effects → LwM2M
 * operations, notifications and registrations → machine inputs, pull progress from the
 * /fw route — is {@link DevicePort}'s job; what each device runs is the server's
 * {@link DeviceInventory}'s.
 */
import { randomUUID } from 'node:crypto';
import { isLwm2mFotaError, Lwm2mFotaError } from '../../errors';
import type { EventBus } from '../../events';
import type { DeviceInventory } from '../../lwm2m/server/inventory';
import type { RegistrationService } from '../../lwm2m/server/registration/registration-service';
import type { DeviceManagement } from '../../lwm2m/server/requests/device-management';
import type { UpdateJobStore } from '../../store/types';
import type { FirmwareBlockServed } from '../firmware/coap-route';
import { DevicePort, type FirmwareCatalog } from './device-port';
import {
  canCancel,
  createJob,
  DEFAULT_UPDATE_CONFIG,
  isTerminal,
  resumeJob,
  type Job,
  type JobInput,
  type UpdateConfig,
  type UpdateTimeouts,
} from './machine';
import type { ConfirmBy } from './machine';
import { confirmForClass, type ConfirmByClass } from './confirm-by';
import { firmwareFileUri, packageHostFor } from './package-uri';
import { JobRunner } from './runner';

export type { FirmwareCatalog } from './device-port';

export type UpdateConfigOverrides = Partial<Omit<UpdateConfig, 'timeouts'>> & { readonly timeouts?: Partial<UpdateTimeouts> };

export interface UpdateServiceOptions {
  readonly jobs: UpdateJobStore;
  readonly devices: DeviceManagement;
  readonly registrations: RegistrationService;
  /** What each device runs (/3/0/3): read here, recorded here when a job learns it. */
  readonly inventory: DeviceInventory;
  /** The address and port the server's CoAP endpoint is bound to: pull URIs name them. */
  readonly localAddress: () => { readonly address: string; readonly port: number };
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
  /** At most one `updateProgress` event per job per this many ms (default 1000). */
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

function mergeConfig(o: UpdateConfigOverrides | undefined): UpdateConfig {
  if (o === undefined) return DEFAULT_UPDATE_CONFIG;
  return { ...DEFAULT_UPDATE_CONFIG, ...o, timeouts: { ...DEFAULT_UPDATE_CONFIG.timeouts, ...o.timeouts } };
}

export class UpdateService {
  readonly config: UpdateConfig;
  readonly #o: UpdateServiceOptions;
  readonly #now: () => number;
  readonly #log: (line: string) => void;
  readonly #port: DevicePort;
  /** Active jobs by endpoint. */
  readonly #runners = new Map<string, JobRunner>();
  /** Endpoints whose job is being created (conflict guard while the store commits). */
  readonly #starting = new Set<string>();
  readonly #stepWaiters = new Map<JobInput, { runner: JobRunner; resolve: (job: Job) => void }>();
  readonly #unsubscribe: Array<() => void> = [];
  #closed = false;

  private constructor(options: UpdateServiceOptions) {
    this.#o = options;
    this.config = mergeConfig(options.config);
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? (() => {});
    this.#port = new DevicePort(
      {
        jobs: options.jobs,
        devices: options.devices,
        inventory: options.inventory,
        firmware: options.firmware,
        events: options.events,
        config: this.config,
        ...(options.pushBlockSize === undefined ? {} : { pushBlockSize: options.pushBlockSize }),
        now: this.#now,
        log: this.#log,
      },
      (endpoint) => this.#runners.get(endpoint),
    );
  }

  /**
   * Starts the service: follows registrations and notifications, then resumes every
   * active job of the store (resume rules in machine.ts).
   */
  static async start(options: UpdateServiceOptions): Promise<UpdateService> {
    const s = new UpdateService(options);
    s.#unsubscribe.push(options.registrations.onChange((c) => s.#port.onRegistration(c)));
    s.#unsubscribe.push(options.devices.observations.subscribe((n) => s.#port.onNotification(n)));
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
    const local = this.#o.localAddress();
    const host = this.#o.packageHost ?? packageHostFor(registration.address, local.address);
    const port = this.#o.packagePort ?? local.port;
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

  /** Whether the endpoint has an active job (its runner reads the device's version itself). */
  isActive(endpoint: string): boolean {
    return this.#runners.has(endpoint) || this.#starting.has(endpoint);
  }

  /** The firmware version (/3/0/3) the device runs, as the inventory knows it. */
  firmwareVersion(endpoint: string, options: { read?: boolean; timeoutMs?: number } = {}): Promise<string | undefined> {
    return this.#o.inventory.firmwareVersion(endpoint, options);
  }

  /**
   * What the `/fw/<digest>` route reports for every block it serves: while a device
   * pulls, delivery progress. O(1) per block.
   */
  onBlockServed(block: FirmwareBlockServed): void {
    this.#port.onBlockServed(block);
  }

  /** Stops every runner (jobs stay in the store and resume at the next start). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const u of this.#unsubscribe) u();
    for (const r of this.#runners.values()) r.close();
    this.#runners.clear();
    this.#port.close();
  }

  #runner(job: Job): JobRunner {
    const runner: JobRunner = new JobRunner(
      job,
      this.#port.portFor(
        () => runner,
        (j, input) => this.#stepped(runner, j, input),
      ),
      {
        config: this.config,
        ...(this.#o.progressIntervalMs === undefined ? {} : { progressIntervalMs: this.#o.progressIntervalMs }),
      },
    );
    return runner;
  }

  /** After each step: a cancel's waiter hears of it; a job that ended leaves the registry. */
  #stepped(runner: JobRunner, job: Job, input: JobInput | undefined): void {
    for (const [waited, w] of this.#stepWaiters) {
      if (waited !== input && !(w.runner === runner && isTerminal(job.state))) continue;
      this.#stepWaiters.delete(waited);
      w.resolve(job);
    }
    if (!isTerminal(job.state)) return;
    if (this.#runners.get(job.endpoint) === runner) this.#runners.delete(job.endpoint);
    void runner.idle().then(() => runner.close());
  }

  #checkOpen(): void {
    if (this.#closed) throw new Lwm2mFotaError('ERR_STORE_CLOSED', 'the update service is closed');
  }
}

function conflict(endpoint: string): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_FOTA_JOB_CONFLICT', `an update of ${endpoint} is already running (cancel it first)`, { context: { endpoint } });
}

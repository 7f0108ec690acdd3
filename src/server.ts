import { join, resolve } from 'node:path';
import { createApiServer, type ApiServer } from './api/api-server';
import type { Router } from './api/http';
import { loadOrCreateToken } from './api/token';
import { createCoapEndpoint } from './coap';
import type { CoapEndpoint, TransmissionParameters } from './coap/types';
import { registerDeviceRoutes } from './api/device-routes';
import { addFirmwareRoutes } from './api/firmware-routes';
import { EventBus } from './events';
import { updateLogLine } from './update-log';
import { FIRMWARE_ROUTE, firmwareRequestHandler, loadTrustPolicy, openFirmwareRepository, type FirmwareRepository } from './fota/firmware';
import { UpdateService, type UpdateConfigOverrides } from './fota/update/service';
import { registerUpdateRoutes } from './api/update-routes';
import { loadObjectModels, type ModelRegistry } from './lwm2m/core/model';
import { DeviceInventory } from './lwm2m/server/inventory';
import { DeviceManagement } from './lwm2m/server/requests/device-management';
import { RegistrationService } from './lwm2m/server/registration/registration-service';
import { lockDataDir, openSqliteStore } from './store';
import { Lwm2mFotaError } from './errors';
import type { Store } from './store/types';

export interface ServerOptions {
  /** Where the SQLite file, the API token and firmware live. Default ./data. */
  readonly dataDir?: string;
  /** CoAP UDP port (default 5683; 0 = any free port). */
  readonly coapPort?: number;
  /** CoAP bind address (default '::', dual stack). */
  readonly coapHost?: string;
  /** REST API port (default 8080; 0 = any free port; false = no HTTP API). */
  readonly httpPort?: number | false;
  /** REST API bind address (default 127.0.0.1). */
  readonly httpHost?: string;
  /** API token; default: LWM2M_FOTA_TOKEN, else <dataDir>/api-token (created on first start). */
  readonly token?: string;
  /** Extra folders of DDF XML object definitions. */
  readonly objectDirs?: readonly string[];
  readonly transmission?: Partial<TransmissionParameters>;
  /** Extra time after a registration's lifetime before it expires (default 0). */
  readonly lifetimeGraceMs?: number;
  /** How often lifetimes are checked (default 1000 ms). */
  readonly expirySweepMs?: number;
  /** How long (ms) a queue-mode device listens after its last contact (default 20 000). */
  readonly awakeWindowMs?: number;
  /** One deadline (ms) per exchange with a device; default: the CoAP retransmission schedule. */
  readonly requestTimeoutMs?: number;
  /** Trusted public keys (PEM files) firmware must be signed with; without trust or policy every firmware is refused. */
  readonly trust?: readonly string[];
  /** A JSON trust policy file (src/suit `SuitPolicyJson`: keys with roles, signers, IDs, minimum sequence number). */
  readonly policy?: string;
  /** Bytes of firmware files kept in memory for serving, shared by all devices (default 128 MiB). */
  readonly firmwareCacheBytes?: number;
  /** Firmware updates: retries, backoff and timeouts; the host devices fetch firmware from. */
  readonly update?: {
    readonly config?: UpdateConfigOverrides;
    /** Host name or address in pull URIs (default: inferred per device from the bound address). */
    readonly packageHost?: string;
    /** At most one `updateProgressed` event per job per this many ms (default 1000). */
    readonly progressIntervalMs?: number;
    /** What confirms success per device class (SUIT class ID or class name), for jobs that do not say. */
    readonly confirmByClass?: Readonly<Record<string, 'firmwareVersion' | 'pkgVersion' | 'result'>>;
  };
  /** One line per notable thing (registrations, errors). */
  readonly log?: (line: string) => void;
  /** Log every register / update / de-register / expiry through `log` (default true). */
  readonly logRegistrations?: boolean;
  /** Log every update job transition (queued … succeeded / failed with its reason) through `log` (default true). */
  readonly logUpdates?: boolean;
}

/** A running lwm2m-fota server. */
export interface Lwm2mFotaServer {
  readonly dataDir: string;
  readonly coap: CoapEndpoint;
  readonly store: Store;
  readonly events: EventBus;
  readonly registrations: RegistrationService;
  /** The object model (shipped objects and `objectDirs`). */
  readonly models: ModelRegistry;
  /** Operations, observations, the request queue of sleeping devices, Send. */
  readonly devices: DeviceManagement;
  /** Verified firmware, served at coap /fw/<digest>. */
  readonly firmware: FirmwareRepository;
  /** Update jobs: start, cancel, status; resumed from the store at start-up. */
  readonly updates: UpdateService;
  /** What each device runs (/3/0/3), read after each registration and each update. */
  readonly inventory: DeviceInventory;
  readonly api: ApiServer | undefined;
  readonly token: string;
  close(): Promise<void>;
}

/**
 * Starts the server: opens the store, loads registrations (expiring those whose lifetime
 * ran out while it was down), binds CoAP and the REST API.
 *
 * Throws ERR_STORE_LOCKED (another server holds the data directory), ERR_STORE_OPEN /
 * ERR_STORE_SCHEMA (data directory), ERR_LWM2M_MODEL (an `objectDirs` folder or definition
 * that does not load), ERR_COAP_BIND (UDP port),
 * ERR_API_UNREACHABLE (HTTP port).
 */
export async function createServer(options: ServerOptions = {}): Promise<Lwm2mFotaServer> {
  const dataDir = resolve(options.dataDir ?? './data');
  const log = options.log ?? (() => {});
  // One server per data directory: taken before anything in it is read, released last.
  const lock = lockDataDir(dataDir);
  let store: Store;
  try {
    store = openSqliteStore({ file: join(dataDir, 'lwm2m-fota.sqlite') });
  } catch (err) {
    lock.release();
    throw err;
  }
  const cleanup: Array<() => Promise<void> | void> = [() => store.close(), () => lock.release()];
  try {
    // A folder that does not read or a definition that does not load is a configuration the
    // operator must fix: refused before anything binds, not logged and carried past.
    const { registry: models, problems } = loadObjectModels({ directories: options.objectDirs ?? [] });
    const errors = problems.filter((p) => p.severity === 'error');
    if (errors.length > 0) {
      const first = errors[0]!;
      throw new Lwm2mFotaError('ERR_LWM2M_MODEL', `--objects: ${first.path}: ${first.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`, {
        cause: first.cause,
        context: { path: first.path },
      });
    }
    for (const p of problems) log(`objects: ${p.severity}: ${p.path}: ${p.message}`);
    const events = new EventBus(store.events);
    const registrations = await RegistrationService.start({
      store: store.registrations,
      events,
      ...(options.lifetimeGraceMs === undefined ? {} : { lifetimeGraceMs: options.lifetimeGraceMs }),
      ...(options.expirySweepMs === undefined ? {} : { sweepIntervalMs: options.expirySweepMs }),
    });
    cleanup.unshift(() => registrations.close());
    if (options.logUpdates !== false && options.log !== undefined) {
      // From the bus, after each event is durable: the log never tells of a transition a crash takes back.
      const unsubscribe = events.subscribe((e) => {
        const line = updateLogLine(e);
        if (line !== undefined) log(line);
      });
      cleanup.push(unsubscribe);
    }
    if (options.logRegistrations !== false && options.log !== undefined) registrations.onChange((c) => {
      const r = c.registration;
      if (c.type === 'registered') log(`registered ${r.endpoint} (${r.registrationId}) from [${r.address}]:${r.port} lwm2m=${r.lwm2mVersion} lt=${r.lifetime} b=${r.binding}`);
      else if (c.type === 'updated') log(`updated ${r.endpoint} (${r.registrationId})`);
      else log(`${c.type} ${r.endpoint} (${r.registrationId})`);
    });

    const coap = await createCoapEndpoint({
      port: options.coapPort ?? 5683,
      host: options.coapHost ?? '::',
      ...(options.transmission === undefined ? {} : { transmission: options.transmission }),
      onError: (err, peer) => log(`coap: ${err.message}${peer ? ` (from [${peer.address}]:${peer.port})` : ''}`),
    });
    cleanup.unshift(() => coap.close());
    registrations.attach(coap);

    const devices = await DeviceManagement.start({
      coap,
      registrations,
      models,
      store,
      events,
      ...(options.awakeWindowMs === undefined ? {} : { awakeWindowMs: options.awakeWindowMs }),
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
      log,
    });
    cleanup.unshift(() => devices.close());
    devices.attach(coap);

    const firmware = await openFirmwareRepository({
      dataDir,
      store: store.firmware,
      policy: loadTrustPolicy({ ...(options.trust ? { trust: options.trust } : {}), ...(options.policy !== undefined ? { policy: options.policy } : {}) }),
      events,
      ...(options.firmwareCacheBytes === undefined ? {} : { cacheBytes: options.firmwareCacheBytes }),
      // The hook update jobs hang on: no removal while an active job delivers the firmware.
      isInUse: async (id) => (await store.jobs.listActive()).some((j) => j.firmwareId === id),
      log,
    });
    let updates: UpdateService | undefined;
    // What each device runs (/3/0/3), read after it registers — unless an update job reads it itself.
    const inventory = new DeviceInventory({ devices, registrations, skipRead: (ep) => updates?.isActive(ep) === true });
    cleanup.unshift(() => inventory.close());
    // Every block the /fw route serves is pull progress for the update service.
    coap.route(
      FIRMWARE_ROUTE,
      firmwareRequestHandler(
        firmware,
        (err) => log(`firmware: ${err.message}`),
        (block) => updates?.onBlockServed(block),
      ),
    );
    updates = await UpdateService.start({
      jobs: store.jobs,
      devices,
      registrations,
      inventory,
      localAddress: () => coap.address(),
      firmware,
      events,
      ...(options.update?.config === undefined ? {} : { config: options.update.config }),
      ...(options.update?.packageHost === undefined ? {} : { packageHost: options.update.packageHost }),
      ...(options.update?.progressIntervalMs === undefined ? {} : { progressIntervalMs: options.update.progressIntervalMs }),
      ...(options.update?.confirmByClass === undefined ? {} : { confirmByClass: options.update.confirmByClass }),
      log,
    });
    const updateService = updates;
    cleanup.unshift(() => updateService.close());

    const token = options.token ?? loadOrCreateToken(dataDir);
    let api: ApiServer | undefined;
    if (options.httpPort !== false) {
      api = await createApiServer({
        host: options.httpHost ?? '127.0.0.1',
        port: options.httpPort ?? 8080,
        token,
        registrations,
        events,
        describeDevice: async (endpoint, detail) => ({ firmwareVersion: (await inventory.firmwareVersion(endpoint, { read: detail })) ?? null }),
        extraRoutes: (router: Router) => {
          // Before the device routes' /api/devices/:endpoint/*rest catch-all.
          registerUpdateRoutes(router, updateService, firmware, (ep) => registrations.get(ep) !== undefined);
          registerDeviceRoutes(router, devices);
          addFirmwareRoutes(router, firmware);
        },
      });
      cleanup.unshift(() => api!.close());
    }

    lock.describe({ coap: coap.address().port, ...(api ? { http: api.address().port } : {}) });
    let closed = false;
    return {
      dataDir,
      coap,
      store,
      events,
      registrations,
      models,
      devices,
      firmware,
      updates: updateService,
      inventory,
      api,
      token,
      async close() {
        if (closed) return;
        closed = true;
        for (const c of cleanup) await c();
      },
    };
  } catch (err) {
    for (const c of cleanup) await Promise.resolve(c()).catch(() => {});
    throw err;
  }
}

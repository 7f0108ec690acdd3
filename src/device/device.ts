/**
 * An emulated constrained LwM2M device: one CoAP endpoint (its own UDP socket) that
 * registers with a server as a client and serves the server's requests on /1, /3 and /5
 * from the same port, as a device behind a NAT must.
 */
import { EventEmitter } from 'node:events';
import { isIPv4 } from 'node:net';
import { createCoapEndpoint, UdpChannel, type CoapEndpoint, type IncomingRequest, type OutgoingResponse, type Peer } from '../coap';
import { isLwm2mFotaError, Lwm2mFotaError } from '../errors';
import { ContentFormat, createContentFormatRegistry, formatLinkFormat, type ContentFormatRegistry, type Lwm2mValue } from '../lwm2m/core/content-formats';
import { loadObjectModels, pathFromIds, type LwM2mPath, type Lwm2mModel, type ModelRegistry } from '../lwm2m/core/model';
import { classIdFor, formatUuid, vendorIdFor, type SuitPolicy } from '../suit';
import { DeliveryMethod, FirmwareState, ObjectId, UpdateResult } from './constants';
import { DeviceChannel } from './device-channel';
import { deviceSeed, FaultState, seededRandom } from './faults';
import { FirmwareObject, type FetchOptions, type FetchOutcome, type FirmwareHost } from './firmware-object';
import { lwm2mPathOf, ObjectTree, type ResourceSpec } from './object-tree';
import { Observers } from './observers';
import { hasRequestChecks, refuseRequest } from './request-checks';
import type { DeviceEvent, DeviceEventMap, DeviceEventName, DeviceInfo, DeviceListener, DeviceLwm2mVersion, DeviceOptions, EmulatedDevice, SlotInfo } from './types';
import { parseCoapUri, resolvePeer } from './uri';

let sharedModel: ModelRegistry | undefined;
let sharedFormats: ContentFormatRegistry | undefined;
const deviceModels = new WeakMap<ModelRegistry, Map<DeviceLwm2mVersion, Lwm2mModel>>();

/** The shipped object definitions, loaded once per process and shared by every device. */
export function defaultDeviceModel(): ModelRegistry {
  sharedModel ??= loadObjectModels().registry;
  return sharedModel;
}

/** Object versions a device of each LwM2M version announces for /1, /3 and /5. */
export function objectVersionsFor(v: DeviceLwm2mVersion): Map<number, string> {
  return new Map([
    [ObjectId.Server, v],
    [ObjectId.Device, v],
    [ObjectId.Firmware, v],
  ]);
}

function modelFor(registry: ModelRegistry, v: DeviceLwm2mVersion): Lwm2mModel {
  let byVersion = deviceModels.get(registry);
  if (!byVersion) deviceModels.set(registry, (byVersion = new Map()));
  let m = byVersion.get(v);
  if (!m) byVersion.set(v, (m = registry.forDevice(objectVersionsFor(v))));
  return m;
}

const delay = (ms: number, unref = false): Promise<void> =>
  new Promise((r) => {
    const t = setTimeout(r, ms);
    if (unref) t.unref();
  });

function seedOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * The verification policy a device starts from: its trust anchors plus its vendor and
 * class. Build it once and pass it as `policy` to every device of a fleet so they share
 * the decoded keys.
 *
 * @throws Lwm2mFotaError `ERR_SUIT_POLICY` when neither keys nor a policy are given.
 */
export function devicePolicy(options: Pick<DeviceOptions, 'policy' | 'trustedKeys' | 'vendorDomain' | 'className'>): SuitPolicy {
  const base: SuitPolicy = options.policy ?? { trustedKeys: options.trustedKeys ?? [] };
  if (base.trustedKeys.length === 0) throw new Lwm2mFotaError('ERR_SUIT_POLICY', 'a SUIT device needs at least one trusted key (--trust)');
  const vendor = options.vendorDomain === undefined ? undefined : vendorIdFor(options.vendorDomain);
  const out: SuitPolicy = { ...base };
  if (vendor !== undefined && base.vendorIds === undefined) out.vendorIds = [formatUuid(vendor)];
  if (vendor !== undefined && options.className !== undefined && base.classIds === undefined) out.classIds = [formatUuid(classIdFor(vendor, options.className))];
  return out;
}

interface DownloadWatch {
  readonly what: 'envelope' | 'image';
  count: number;
  readonly halfway: number | undefined;
  readonly onHalfway: (() => void) | undefined;
}

class Device extends EventEmitter implements EmulatedDevice {
  readonly endpoint: string;
  private readonly lwm2mVersion: DeviceLwm2mVersion;
  private readonly binding: 'U' | 'UQ';
  private lifetime: number;
  private readonly queueMode: boolean;
  private readonly blockSize: number;
  private readonly faults: FaultState;
  /** The version the device was built with (what a fixed-version /3/0/3 reports). */
  private readonly factoryVersion: string;
  private readonly random: () => number;
  private readonly basePolicy: SuitPolicy | undefined;
  private readonly tree: ObjectTree;
  private readonly observers: Observers;
  private readonly firmware: FirmwareObject;
  private readonly serverUri: string;
  private serverPeer: Peer | undefined;

  private coap: CoapEndpoint | undefined;
  private radio: DeviceChannel | undefined;
  private lastPort: number | undefined;
  private registration: { id: string; location: string[] } | undefined;
  private lastContact = 0;
  private updateTimer: NodeJS.Timeout | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
  private rebooting = false;
  private reboots = 0;
  /** Bumped by every reboot and by stop: loops and timers of an older life end. */
  private generation = 0;
  private watch: DownloadWatch | undefined;
  private loop: { gen: number; done: Promise<boolean> } | undefined;
  /** The Register request on its way, if any. */
  private inflight: Promise<unknown> | undefined;
  private defaultPmin = 0;
  private defaultPmax = 0;
  private notificationStoring = false;
  private updating = false;
  /** Whether requests go through the habits of request-checks.ts (answerOnlyFormats, strictLwm2mJson). */
  private readonly checked: boolean;
  /** A Register or an Update waits for its answer (see DeviceOptions.strictRegistration). */
  private registrationPending = false;
  /** Bumped by Create and Delete: an Update carries the links until one with this value is answered. */
  private linksVersion = 0;
  private linksSent = 0;

  constructor(private readonly options: DeviceOptions) {
    super();
    this.setMaxListeners(0);
    this.endpoint = options.endpoint;
    this.lwm2mVersion = options.lwm2mVersion ?? '1.1';
    this.binding = options.binding ?? 'U';
    this.queueMode = this.binding === 'UQ';
    this.lifetime = options.lifetime ?? 300;
    this.checked = hasRequestChecks(options);
    const blockSize = options.blockSize ?? 256;
    if (![16, 32, 64, 128, 256, 512, 1024].includes(blockSize)) throw new Lwm2mFotaError('ERR_CLI_USAGE', `block size must be a power of two from 16 to 1024, got ${blockSize}`);
    this.blockSize = blockSize;
    if (!Number.isInteger(this.lifetime) || this.lifetime < 1) throw new Lwm2mFotaError('ERR_CLI_USAGE', `lifetime must be a positive number of seconds, got ${this.lifetime}`);
    const server = parseCoapUri(options.server);
    if (!server || server.scheme !== 'coap') throw new Lwm2mFotaError('ERR_CLI_USAGE', `server must be a coap:// URI, got "${options.server}"`);
    this.serverUri = `coap://${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`;
    this.faults = new FaultState(options.faults);
    this.factoryVersion = options.firmwareVersion ?? '1.0.0';
    this.random = seededRandom(deviceSeed(options.seed ?? seedOf(options.endpoint), 0));
    const format = options.packageFormat ?? 'suit';
    this.basePolicy = format === 'suit' ? devicePolicy(options) : undefined;

    const registry = options.model ?? defaultDeviceModel();
    const formats = options.formats ?? (sharedFormats ??= createContentFormatRegistry());
    const model = modelFor(registry, this.lwm2mVersion);
    this.tree = new ObjectTree({
      model,
      formats,
      lwm2mVersion: this.lwm2mVersion,
      objectVersions: objectVersionsFor(this.lwm2mVersion),
      onWritten: (p) => this.observers.changed(p),
      // Like a real client, the device lets the server add and remove Server accounts.
      creatableObjects: [ObjectId.Server],
      onInstancesChanged: (p) => this.instancesChanged(p),
      ...(options.contentFormats === undefined ? {} : { contentFormats: options.contentFormats }),
      ...(options.bareRootLink === undefined ? {} : { bareRootLink: options.bareRootLink }),
    });
    this.observers = new Observers({
      send: (peer, token, res, con) => (this.coap ? this.coap.notify(peer, token, res, { confirmable: con }) : Promise.reject(new Error('radio down'))),
      render: (p, f, paths) => (paths === undefined ? this.render(p, f) : this.tree.compositeRead(paths, f)),
      attributes: (p) => {
        const a = this.tree.attributesFor(p);
        return { ...a, pmin: a.pmin ?? this.defaultPmin, pmax: a.pmax ?? this.defaultPmax };
      },
      canSend: () => this.radio?.mode === 'on' && !this.rebooting,
      confirmable: (options.notifications ?? 'con') === 'con',
      onError: (err) => this.report('warning', { message: `notification: ${err.message}` }),
      onNotified: (p) => this.report('notified', { path: `/${pathIds(p).join('/')}` }),
    });

    const device = this;
    const host: FirmwareHost = {
      faults: this.faults,
      packageFormat: format,
      flashSize: options.flashSize ?? 1024 * 1024,
      blockSize,
      block1Negotiation: options.block1Negotiation ?? 'late',
      deliveryMethod: options.deliveryMethod === 'pull' ? DeliveryMethod.Pull : options.deliveryMethod === 'push' ? DeliveryMethod.Push : DeliveryMethod.Both,
      objectVersion: this.lwm2mVersion,
      installDelayMs: options.installDelayMs ?? 100,
      outageMs: options.outageMs ?? 2000,
      rawImageDigest: options.rawImageDigest,
      rawVersion: options.rawVersion,
      serverUri: this.serverUri,
      policy: (min) => ({ ...device.basePolicy!, minSequenceNumber: min }),
      fetch: (uri, o) => device.fetch(uri, o),
      changed: (ids) => {
        for (const id of ids) device.observers.changed(pathFromIds([ObjectId.Firmware, 0, id]));
      },
      emit: (event, payload) => device.report(event, payload),
      reboot: (reason) => device.reboot(reason),
      outage: (ms) => device.outage(ms),
      notificationsSettled: () => Promise.race([device.observers.settled(), delay(2000, true)]),
    };
    this.firmware = new FirmwareObject(host, {
      image: undefined,
      version: options.firmwareVersion ?? '1.0.0',
      sequenceNumber: options.sequenceNumber ?? 0,
      digest: undefined,
    });
    this.tree.add({ objectId: ObjectId.Server, instanceId: 0, resources: this.serverResources() });
    this.tree.add({ objectId: ObjectId.Device, instanceId: 0, resources: this.deviceResources() });
    this.tree.add({ objectId: ObjectId.Firmware, instanceId: 0, resources: this.firmware.resources() });
  }

  // -------------------------------------------------------------------------------------
  // Events

  private report<K extends DeviceEventName>(event: K, payload: DeviceEventMap[K]): void {
    this.emit(event, { endpoint: this.endpoint, ...payload });
  }

  waitFor<K extends DeviceEventName>(event: K, match?: (e: DeviceEvent<K>) => boolean, timeoutMs = 10_000): Promise<DeviceEvent<K>> {
    return new Promise((resolve, reject) => {
      const listener = (e: DeviceEvent<K>): void => {
        if (match && !match(e)) return;
        clearTimeout(timer);
        this.off(event, listener);
        resolve(e);
      };
      const timer = setTimeout(() => {
        this.off(event, listener);
        reject(new Error(`${this.endpoint}: no "${event}" event within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on(event, listener);
    });
  }

  // -------------------------------------------------------------------------------------
  // Objects /1 and /3

  private serverResources(): ResourceSpec[] {
    return [
      { id: 0, read: () => 1 },
      {
        id: 1,
        read: () => this.lifetime,
        write: (v) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 1) return { code: '4.00', message: 'lifetime must be a positive integer' };
          this.lifetime = n;
          // TS Core §6.2.2: a changed lifetime is announced with a registration Update.
          this.soon(() => void this.sendUpdate([`lt=${n}`]));
          return undefined;
        },
      },
      { id: 2, read: () => this.defaultPmin, write: (v) => this.setNumber(v, (n) => (this.defaultPmin = n)) },
      { id: 3, read: () => this.defaultPmax, write: (v) => this.setNumber(v, (n) => (this.defaultPmax = n)) },
      {
        id: 6,
        read: () => this.notificationStoring,
        write: (v) => {
          this.notificationStoring = v === true;
          return undefined;
        },
      },
      { id: 7, read: () => this.binding, write: (v) => (v === 'U' || v === 'UQ' ? undefined : { code: '4.00', message: 'the emulator supports bindings U and UQ' }) },
      {
        id: 8,
        execute: () => {
          this.soon(() => void this.sendUpdate([]));
          return undefined;
        },
      },
    ];
  }

  private setNumber(v: Lwm2mValue, set: (n: number) => void): { code: string; message: string } | undefined {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) return { code: '4.00', message: 'a non-negative integer is expected' };
    set(n);
    return undefined;
  }

  private deviceResources(): ResourceSpec[] {
    const o = this.options;
    return [
      { id: 0, read: () => o.manufacturer ?? 'lwm2m-fota' },
      { id: 1, read: () => o.modelNumber ?? o.className ?? 'emulator' },
      { id: 2, read: () => o.serialNumber ?? this.endpoint },
      // fixed-version: /3/0/3 names the factory firmware whatever runs (Anjay's demo reports its library version).
      { id: 3, read: () => (this.faults.armed('fixedVersion') ? this.factoryVersion : this.firmware.running.version) },
      {
        id: 4,
        execute: () => {
          // Answer first, then go down (TS Core: the client reboots after acknowledging).
          this.soon(() => this.reboot('execute'));
          return undefined;
        },
      },
      { id: 6, read: () => new Map<number, Lwm2mValue>([[0, 1]]) },
      { id: 9, read: () => 100 },
      { id: 10, read: () => Math.max(0, Math.floor((this.options.flashSize ?? 1024 * 1024) / 1024) - Math.ceil((this.firmware.other?.image?.length ?? 0) / 1024)) },
      { id: 11, read: () => new Map<number, Lwm2mValue>([[0, 0]]) },
      { id: 13, read: () => new Date(Math.floor(Date.now() / 1000) * 1000), write: () => undefined },
      { id: 16, read: () => 'UQ' },
      { id: 17, read: () => 'lwm2m-fota emulator' },
      { id: 18, read: () => '1.0' },
      { id: 19, read: () => this.firmware.running.version },
      { id: 21, read: () => Math.floor((this.options.flashSize ?? 1024 * 1024) / 1024) },
    ];
  }

  /**
   * An instance came or went: tell the observers, and the server with a registration Update
   * carrying the new links (TS Core §6.2.2: Objects and Object Instances changed).
   */
  private instancesChanged(path: LwM2mPath): void {
    this.observers.changed(path);
    this.linksVersion++;
    this.soon(() => void this.sendUpdate([]));
  }

  private soon(fn: () => void): void {
    setTimeout(fn, 10).unref?.();
  }

  // -------------------------------------------------------------------------------------
  // Serving the server's requests

  private render(path: LwM2mPath, format: number): OutgoingResponse {
    const r = this.tree.read(path);
    if ('code' in r) return { code: r.code };
    const payload = this.tree.encode(format, r.node, path);
    return payload === undefined ? { code: '5.00' } : { code: '2.05', payload, contentFormat: format };
  }

  private handle(req: IncomingRequest): OutgoingResponse {
    const path = lwm2mPathOf(req.path);
    if (!path) return { code: '4.04' };
    if (this.checked) {
      const refused = refuseRequest(this.options, req);
      if (refused !== undefined) return refused;
    }
    switch (req.method) {
      case 'GET': {
        if (req.accept === ContentFormat.LinkFormat) return this.tree.discover(path);
        if (req.observe === 1) this.observers.remove(req.peer, req.token);
        const { format, ...res } = this.tree.readResponse(path, req.accept);
        if (req.observe === 0 && res.code === '2.05' && format !== undefined) {
          this.observers.add(req.peer, req.token, path, format, res.payload ?? Buffer.alloc(0));
          return { ...res, observe: this.observers.nextSequence() };
        }
        return res;
      }
      case 'PUT':
        if (req.payload.length === 0 && req.contentFormat === undefined && req.query.length > 0) {
          const res = this.tree.writeAttributes(path, req.query);
          if (res.code === '2.04') this.observers.rearm();
          return res;
        }
        return this.tree.write(path, req);
      case 'POST':
        if (path.level === 'resource') return this.tree.execute(path, req.payload);
        if (path.level === 'object') return this.tree.create(path, req);
        return this.tree.write(path, req);
      case 'DELETE':
        return this.tree.delete(path);
      case 'FETCH': {
        // Read-Composite, and Observe-Composite with Observe 0 / 1 (TS Core 1.1 §6.3.8, §6.4.3).
        if (path.level !== 'root') return { code: '4.05' };
        if (req.observe === 1) this.observers.remove(req.peer, req.token);
        const { response, paths, format } = this.tree.readCompositeRequest(req);
        if (req.observe === 0 && response.code === '2.05' && paths !== undefined && format !== undefined) {
          this.observers.add(req.peer, req.token, path, format, response.payload ?? Buffer.alloc(0), paths);
          return { ...response, observe: this.observers.nextSequence() };
        }
        return response;
      }
      case 'iPATCH':
        return path.level === 'root' ? this.tree.writeComposite(req) : { code: '4.05' };
      default:
        return { code: '4.05' };
    }
  }

  // -------------------------------------------------------------------------------------
  // Radio and endpoint

  private async openRadio(): Promise<void> {
    const host = this.options.host ?? (this.serverPeer && isIPv4(this.serverPeer.address) ? '0.0.0.0' : '::');
    let inner: UdpChannel;
    const wanted = this.options.port ?? this.lastPort ?? 0;
    try {
      inner = await UdpChannel.bind({ host, port: wanted });
    } catch (err) {
      // After a reboot the old port may have been taken by someone else: any port will do.
      if (this.options.port !== undefined || wanted === 0) throw err;
      inner = await UdpChannel.bind({ host, port: 0 });
    }
    const radio = new DeviceChannel(inner, {
      dropRate: this.faults.dropRate,
      random: this.random,
      onActivity: (d) => this.onActivity(d),
      ...(this.options.strictRegistration === true ? { ignore: (d: Buffer) => this.registrationPending && isRequest(d) } : {}),
    });
    const coap = await createCoapEndpoint({
      channel: radio,
      maxBlockSize: this.blockSize,
      ...(this.options.transmission ? { transmission: this.options.transmission } : {}),
      onError: (err) => {
        if (!isLwm2mFotaError(err, 'ERR_COAP_MALFORMED')) this.report('warning', { message: err.message });
      },
    });
    // Package pushes arrive block by block and go straight into flash.
    coap.route(['5', '0', '0'], (req) => this.firmware.handlePackageDatagram(req), { blockwise: 'raw', maxPayloadBytes: 2 ** 31 });
    coap.route([], (req) => this.handle(req));
    this.radio = radio;
    this.coap = coap;
    this.lastPort = radio.address().port;
  }

  private async closeRadio(): Promise<void> {
    const coap = this.coap;
    if (this.radio) this.radio.mode = 'off';
    this.coap = undefined;
    if (coap) await coap.close();
  }

  private onActivity(datagram: Buffer): void {
    const w = this.watch;
    // A response (class 2) during a download: count it as a block.
    if (w && datagram.length > 1 && datagram[1]! >> 5 === 2) {
      w.count++;
      this.report('blockReceived', { method: 'pull', what: w.what, num: w.count - 1, bytes: datagram.length });
      if (w.halfway !== undefined && w.count === w.halfway) w.onHalfway?.();
    }
    if (this.queueMode && this.radio?.mode === 'on') this.armSleep();
  }

  private async outage(ms: number): Promise<void> {
    const radio = this.radio;
    if (!radio) return;
    radio.mode = 'off';
    await delay(ms);
    if (this.radio === radio && !this.rebooting && !this.stopped) {
      radio.mode = 'on';
      if (this.queueMode) this.armSleep();
    }
  }

  // -------------------------------------------------------------------------------------
  // Downloads

  private async fetch(uri: string, o: FetchOptions): Promise<FetchOutcome> {
    const parsed = parseCoapUri(uri);
    if (!parsed) return { ok: false, result: UpdateResult.InvalidUri, reason: `"${uri}" is not a URI` };
    let peer: Peer;
    try {
      peer = await resolvePeer(parsed);
    } catch (err) {
      return { ok: false, result: UpdateResult.InvalidUri, reason: `cannot resolve ${parsed.host}: ${(err as Error).message}` };
    }
    const coap = this.coap;
    if (!coap) return { ok: false, aborted: true };
    const w: DownloadWatch = {
      what: o.what,
      count: 0,
      halfway: o.expectedBlocks === undefined ? undefined : Math.max(1, Math.floor(o.expectedBlocks / 2)),
      onHalfway: o.onHalfway,
    };
    this.watch = w;
    try {
      const res = await coap.request(peer, {
        method: 'GET',
        path: parsed.path,
        query: parsed.query,
        block2Size: this.blockSize,
        maxResponseBytes: o.limit,
      });
      if (res.code === '2.05') return { ok: true, payload: res.payload };
      if (res.code === '4.13') return { ok: false, result: UpdateResult.NotEnoughFlash, reason: `${res.code} from the server` };
      if (res.code.startsWith('4.')) return { ok: false, result: UpdateResult.InvalidUri, reason: `${res.code} for ${uri}` };
      return { ok: false, result: UpdateResult.ConnectionLost, reason: `${res.code} for ${uri}` };
    } catch (err) {
      if (isLwm2mFotaError(err, 'ERR_COAP_TOO_LARGE')) return { ok: false, result: UpdateResult.NotEnoughFlash, reason: err.message };
      if (isLwm2mFotaError(err, 'ERR_COAP_CLOSED')) return { ok: false, aborted: true };
      return { ok: false, result: UpdateResult.ConnectionLost, reason: (err as Error).message };
    } finally {
      if (this.watch === w) this.watch = undefined;
    }
  }

  // -------------------------------------------------------------------------------------
  // Registration (TS Core §6.2)

  private registrationQuery(): string[] {
    const q = [`ep=${this.endpoint}`, `lt=${this.lifetime}`, `lwm2m=${this.lwm2mVersion}`];
    // 1.0 spells queue mode in the binding (UQ); 1.1+ in the separate Q parameter.
    if (this.lwm2mVersion === '1.0') q.push(`b=${this.binding}`);
    else {
      q.push('b=U');
      if (this.queueMode) q.push('Q');
    }
    return q;
  }

  /** Registers, retrying with backoff until it works or this life ends. */
  private registerLoop(): Promise<boolean> {
    // One loop at a time (an Update that got 4.04 and a trigger may both ask for one).
    if (this.loop && this.loop.gen === this.generation) return this.loop.done;
    const gen = this.generation;
    const done = this.runRegisterLoop().finally(() => {
      if (this.loop?.done === done) this.loop = undefined;
    });
    this.loop = { gen, done };
    return done;
  }

  private async runRegisterLoop(): Promise<boolean> {
    const gen = this.generation;
    let wait = this.options.registrationRetryMs ?? 1000;
    while (!this.stopped && gen === this.generation) {
      const coap = this.coap;
      if (!coap || !this.serverPeer) return false;
      if (this.radio && this.radio.mode === 'asleep') this.wake();
      const links = this.linksVersion;
      try {
        this.registrationPending = true;
        const inflight = coap.request(this.serverPeer, {
          method: 'POST',
          path: ['rd'],
          query: this.registrationQuery(),
          payload: Buffer.from(formatLinkFormat(this.tree.registrationLinks()), 'utf8'),
          contentFormat: ContentFormat.LinkFormat,
        }).finally(() => (this.registrationPending = false));
        this.inflight = inflight;
        const res = await inflight;
        if (gen !== this.generation || this.stopped) {
          // Stopped while the Register was on its way: note it, so that stop() de-registers it.
          if (this.stopped && res.code === '2.01' && res.locationPath.length > 0) {
            this.registration = { id: res.locationPath[res.locationPath.length - 1]!, location: [...res.locationPath] };
          }
          return false;
        }
        if (res.code === '2.01' && res.locationPath.length > 0) {
          const location = [...res.locationPath];
          this.registration = { id: location[location.length - 1]!, location };
          this.linksSent = links;
          this.report('registered', {
            registrationId: this.registration.id,
            location: '/' + location.join('/'),
            firmwareVersion: this.firmware.running.version,
            port: this.lastPort ?? 0,
          });
          this.afterContact();
          return true;
        }
        this.report('registrationFailed', { reason: `server answered ${res.code}`, retryInMs: wait });
      } catch (err) {
        if (gen !== this.generation || this.stopped) return false;
        this.report('registrationFailed', { reason: (err as Error).message, retryInMs: wait });
      }
      await delay(wait);
      wait = Math.min(wait * 2, 60_000);
    }
    return false;
  }

  /** After a successful Register or Update: stay awake for a while (queue mode), plan the next Update. */
  private afterContact(): void {
    this.lastContact = Date.now();
    if (this.queueMode) {
      this.wake();
      this.armSleep();
    }
    this.scheduleUpdate();
  }

  private scheduleUpdate(delayMs?: number): void {
    if (this.updateTimer) clearTimeout(this.updateTimer);
    const lifetimeMs = this.lifetime * 1000;
    // Update well before the lifetime ends (TS Core §6.2.2), and after each long sleep in queue mode.
    let next = delayMs ?? Math.max(1000, Math.min(lifetimeMs * 0.8, lifetimeMs - 2000));
    const sleep = this.faults.sleepMs;
    if (delayMs === undefined && this.queueMode && sleep !== undefined) next = Math.min(next, (this.options.queueWindowMs ?? 93_000) + sleep);
    const gen = this.generation;
    this.updateTimer = setTimeout(() => {
      if (gen === this.generation) void this.sendUpdate([]);
    }, next);
  }

  private async sendUpdate(query: string[]): Promise<void> {
    if (this.stopped || this.rebooting || this.updating) return;
    const reg = this.registration;
    const coap = this.coap;
    if (!reg || !coap || !this.serverPeer) {
      void this.registerLoop();
      return;
    }
    const gen = this.generation;
    this.updating = true;
    if (this.queueMode) this.wake();
    const links = this.linksVersion;
    const withLinks =
      links === this.linksSent
        ? {}
        : { payload: Buffer.from(formatLinkFormat(this.tree.registrationLinks()), 'utf8'), contentFormat: ContentFormat.LinkFormat };
    try {
      this.registrationPending = true;
      const res = await coap
        .request(this.serverPeer, { method: 'POST', path: reg.location, query, ...withLinks })
        .finally(() => (this.registrationPending = false));
      if (gen !== this.generation || this.stopped) return;
      if (res.code === '2.04') {
        this.linksSent = links;
        // Instances changed while this Update was on its way: send the newer links too.
        if (this.linksVersion !== links) this.soon(() => void this.sendUpdate([]));
        this.report('registrationUpdated', { registrationId: reg.id });
        this.afterContact();
        this.observers.flush();
        return;
      }
      if (res.code === '4.04') {
        // The server forgot us (expired, restarted without state): register anew.
        this.registration = undefined;
        void this.registerLoop();
        return;
      }
      this.report('registrationFailed', { reason: `update answered ${res.code}`, retryInMs: 5000 });
    } catch (err) {
      if (gen !== this.generation || this.stopped) return;
      this.report('registrationFailed', { reason: `update: ${(err as Error).message}`, retryInMs: 5000 });
    } finally {
      this.updating = false;
    }
    // Failed: once the lifetime is over the registration is gone; register then, else retry the Update.
    if (Date.now() - this.lastContact > this.lifetime * 1000) {
      this.registration = undefined;
      void this.registerLoop();
    } else this.scheduleUpdate(5000);
  }

  // -------------------------------------------------------------------------------------
  // Queue mode (TS Core §6.5)

  private wake(): void {
    const radio = this.radio;
    if (!radio || radio.mode !== 'asleep') return;
    radio.mode = 'on';
    this.report('awake', {});
    this.observers.flush();
  }

  private armSleep(): void {
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    const gen = this.generation;
    this.sleepTimer = setTimeout(() => {
      if (gen !== this.generation || !this.radio || this.radio.mode !== 'on') return;
      // A device busy with a download or an install stays awake.
      const s = this.firmware.state;
      if (s === FirmwareState.Downloading || s === FirmwareState.Updating || this.watch !== undefined) {
        this.armSleep();
        return;
      }
      this.radio.mode = 'asleep';
      this.report('asleep', {});
    }, this.options.queueWindowMs ?? 93_000);
    this.sleepTimer.unref?.();
  }

  // -------------------------------------------------------------------------------------
  // Reboot

  private clearTimers(): void {
    if (this.updateTimer) clearTimeout(this.updateTimer);
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.updateTimer = undefined;
    this.sleepTimer = undefined;
  }

  /** Goes silent for `rebootDelayMs`, boots (installing a pending update), re-registers. */
  reboot(reason: 'update' | 'execute' | 'fault'): void {
    if (this.rebooting || this.stopped || !this.started) return;
    this.rebooting = true;
    this.reboots++;
    this.generation++;
    this.report('rebooting', { reason });
    this.clearTimers();
    this.observers.clear();
    this.firmware.onShutdown();
    this.registration = undefined;
    this.watch = undefined;
    void (async () => {
      try {
        await this.closeRadio();
        await delay(this.options.rebootDelayMs ?? 1000);
        if (this.stopped) return;
        const boot = this.firmware.onBoot();
        await this.openRadio();
        this.rebooting = false;
        this.report('rebooted', { firmwareVersion: this.firmware.running.version, fellBack: boot.fellBack });
        await this.registerLoop();
      } catch (err) {
        this.rebooting = false;
        this.report('warning', { message: `reboot: ${(err as Error).message}` });
      }
    })();
  }

  // -------------------------------------------------------------------------------------
  // Lifecycle

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopped = false;
    const server = parseCoapUri(this.options.server)!;
    this.serverPeer = await resolvePeer(server);
    await this.openRadio();
    await this.registerLoop();
  }

  async stop(options: { deregister?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.generation++;
    this.clearTimers();
    this.observers.clear();
    this.firmware.onShutdown();
    // A Register on its way gets its answer first, so that it can be undone.
    if (this.inflight) await Promise.race([this.inflight.catch(() => undefined), delay(5000, true)]);
    const reg = this.registration;
    const coap = this.coap;
    if (reg && coap && this.serverPeer && (options.deregister ?? true) && !this.rebooting) {
      if (this.radio) this.radio.mode = 'on';
      try {
        // TS Core §6.2.3 De-register: DELETE on the registration's location.
        await coap.request(this.serverPeer, { method: 'DELETE', path: reg.location, timeoutMs: 5000 });
        this.report('deregistered', { registrationId: reg.id });
      } catch (err) {
        this.report('warning', { message: `de-register: ${(err as Error).message}` });
      }
    }
    this.registration = undefined;
    await this.closeRadio();
  }

  // -------------------------------------------------------------------------------------
  // Inspection

  get firmwareVersion(): string {
    return this.firmware.running.version;
  }

  get state(): FirmwareState {
    return this.firmware.state;
  }

  get updateResult(): UpdateResult {
    return this.firmware.result;
  }

  get registrationId(): string | undefined {
    return this.registration?.id;
  }

  info(): DeviceInfo {
    const slot = (s: { image: Buffer | undefined; version: string; sequenceNumber: number; digest: string | undefined }): SlotInfo => ({
      version: s.version,
      sequenceNumber: s.sequenceNumber,
      size: s.image?.length ?? 0,
      digest: s.digest,
    });
    const fw = this.firmware;
    return {
      endpoint: this.endpoint,
      lwm2mVersion: this.lwm2mVersion,
      binding: this.binding,
      registered: this.registration !== undefined,
      registrationId: this.registration?.id,
      port: this.coap ? this.lastPort : undefined,
      firmwareVersion: fw.running.version,
      sequenceNumber: fw.running.sequenceNumber,
      state: fw.state,
      updateResult: fw.result,
      packageUri: fw.packageUri,
      slots: { active: fw.activeSlot, running: slot(fw.running), other: fw.other ? slot(fw.other) : undefined },
      awake: this.radio?.mode === 'on',
      rebooting: this.rebooting,
      reboots: this.reboots,
      radio: { ...(this.radio?.stats ?? { sent: 0, received: 0, droppedOut: 0, droppedIn: 0, ignoredIn: 0 }) },
      faults: this.faults.snapshot(),
    };
  }

  override on<K extends DeviceEventName>(event: K, listener: DeviceListener<K>): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override once<K extends DeviceEventName>(event: K, listener: DeviceListener<K>): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }

  override off<K extends DeviceEventName>(event: K, listener: DeviceListener<K>): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }
}

/** A CoAP request (RFC 7252 §3: code class 0 but not Empty, CON or NON), from its first two bytes. */
function isRequest(datagram: Buffer): boolean {
  if (datagram.length < 4) return false;
  const type = (datagram[0]! >> 4) & 3;
  const code = datagram[1]!;
  return code !== 0 && code >> 5 === 0 && type <= 1;
}

function pathIds(p: LwM2mPath): number[] {
  switch (p.level) {
    case 'root':
      return [];
    case 'object':
      return [p.objectId];
    case 'objectInstance':
      return [p.objectId, p.instanceId];
    case 'resource':
      return [p.objectId, p.instanceId, p.resourceId];
    case 'resourceInstance':
      return [p.objectId, p.instanceId, p.resourceId, p.resourceInstanceId];
  }
}

/**
 * Creates an emulated device (stopped; `start()` binds its socket and registers).
 *
 * @example
 * const device = await createDevice({ server: 'coap://[::1]:5683', endpoint: 'sensor-1',
 *   trustedKeys: [{ key: loadPublicKey(pem) }], vendorDomain: 'example.com', className: 'sensor-v2' });
 * device.on('updated', (e) => console.log(e.endpoint, e.from, '→', e.to));
 * await device.start();
 *
 * @throws Lwm2mFotaError `ERR_CLI_USAGE` for bad options (server URI, block size, lifetime),
 *   `ERR_SUIT_POLICY` when a SUIT device has no trusted key.
 */
export async function createDevice(options: DeviceOptions): Promise<EmulatedDevice> {
  return new Device(options);
}

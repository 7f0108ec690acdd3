/**
 * A small LwM2M client for integration tests: registers over real UDP with a CoAP
 * endpoint of its own, serves /1, /3 and /5 from an in-memory tree with the real codecs —
 * in the formats its LwM2M version allows — answers Discover, Write-Attributes, Execute,
 * Create, Delete, Observe (single and composite), Read/Write-Composite, and sends Send.
 *
 * `textOnly` makes it an old 1.0 device that speaks text/plain for single resources only
 * and refuses whole instances with 4.06 (or 4.04 with `treeRefusal: '4.04'`).
 * `answerOnlyFormats` makes it emit formats it does not read in requests (4.15).
 */
import { createCoapEndpoint } from '../../src/coap';
import type { CoapEndpoint, IncomingRequest, OutgoingResponse, Peer, TransmissionParameters } from '../../src/coap/types';
import type { CompositeEntry } from '../../src/lwm2m/core/content-formats/codec';
import { formatLinkFormat, type Link } from '../../src/lwm2m/core/content-formats/link-format';
import {
  lwm2mObject,
  multipleResource,
  objectInstance,
  resource,
  type Lwm2mNode,
  type Lwm2mResource,
  type Lwm2mValue,
  type ObjectInstance,
} from '../../src/lwm2m/core/content-formats/node';
import { ContentFormat, createContentFormatRegistry, type ContentFormatRegistry } from '../../src/lwm2m/core/content-formats/registry';
import { loadObjectModels, type ModelRegistry } from '../../src/lwm2m/core/model';
import { formatPath, isPathPrefix, pathFromIds, pathIds, type LwM2mPath } from '../../src/lwm2m/core/model/path';
import type { Lwm2mModel } from '../../src/lwm2m/core/model/types';

export type TestLwm2mVersion = '1.0' | '1.1' | '1.2';

export interface TestDeviceOptions {
  readonly endpoint: string;
  readonly server: Peer;
  readonly lwm2mVersion?: TestLwm2mVersion;
  /** Binding; 'UQ' (1.0) or queueMode (1.1+, sends Q) for queue mode. */
  readonly binding?: string;
  readonly queueMode?: boolean;
  readonly lifetime?: number;
  readonly textOnly?: boolean;
  readonly treeRefusal?: '4.06' | '4.04';
  /** Object versions announced with `ver` (e.g. { 3: '1.1' }). */
  readonly objectVersions?: Readonly<Record<number, string>>;
  readonly transmission?: Partial<TransmissionParameters>;
  readonly models?: ModelRegistry;
  /**
   * Formats the device emits in answers but does not read in a request body (a Write, a
   * Create, the paths of a Read/Observe-Composite …): such a body gets 4.15.
   */
  readonly answerOnlyFormats?: readonly number[];
}

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly accept: number | undefined;
  readonly contentFormat: number | undefined;
  readonly query: readonly string[];
  readonly observe: number | undefined;
}

interface DeviceObservation {
  readonly token: Buffer;
  readonly peer: Peer;
  readonly kind: 'single' | 'composite';
  readonly paths: LwM2mPath[];
  readonly format: number;
  seq: number;
}

const F = ContentFormat;
const FORMATS: Record<TestLwm2mVersion, readonly number[]> = {
  '1.0': [F.TextPlain, F.OctetStream, F.Tlv, F.Lwm2mJson],
  '1.1': [F.TextPlain, F.OctetStream, F.Cbor, F.Tlv, F.Lwm2mJson, F.SenmlJson, F.SenmlCbor],
  '1.2': [F.TextPlain, F.OctetStream, F.Cbor, F.Tlv, F.Lwm2mJson, F.SenmlJson, F.SenmlCbor, F.Lwm2mCbor],
};
const SINGLE_ONLY = new Set<number>([F.TextPlain, F.OctetStream, F.Cbor]);
const COMPOSITE = new Set<number>([F.SenmlJson, F.SenmlCbor, F.Lwm2mCbor]);

let sharedModels: ModelRegistry | undefined;
function defaultModels(): ModelRegistry {
  sharedModels ??= loadObjectModels().registry;
  return sharedModels;
}

const text = (code: string, message: string): OutgoingResponse => ({ code, payload: Buffer.from(message), contentFormat: F.TextPlain });

export class TestDevice {
  readonly endpoint: string;
  readonly version: TestLwm2mVersion;
  readonly formats: ContentFormatRegistry = createContentFormatRegistry();
  readonly model: Lwm2mModel;
  /** Object id → instance id → instance. */
  readonly tree = new Map<number, Map<number, ObjectInstance>>();
  readonly seen: SeenRequest[] = [];
  readonly executed: Array<{ path: string; args: string }> = [];
  readonly attributes = new Map<string, string[]>();
  readonly observations = new Map<string, DeviceObservation>();
  registrationId: string | undefined;
  coap!: CoapEndpoint;
  private readonly options: TestDeviceOptions;

  private constructor(options: TestDeviceOptions) {
    this.options = options;
    this.endpoint = options.endpoint;
    this.version = options.lwm2mVersion ?? '1.1';
    this.model = (options.models ?? defaultModels()).forDevice(new Map(Object.entries(options.objectVersions ?? {}).map(([k, v]) => [Number(k), v])));
    this.seed();
  }

  static async start(options: TestDeviceOptions): Promise<TestDevice> {
    const d = new TestDevice(options);
    d.coap = await createCoapEndpoint({ port: 0, host: '::1', ...(options.transmission ? { transmission: options.transmission } : {}) });
    d.coap.route([], (req) => d.handle(req));
    return d;
  }

  /** The formats this device accepts and produces. */
  allowedFormats(): readonly number[] {
    return this.options.textOnly === true ? [F.TextPlain] : FORMATS[this.version];
  }

  private seed(): void {
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    this.put(1, objectInstance(0, [
      resource(0, 'integer', 1),
      resource(1, 'integer', 300),
      resource(6, 'boolean', false),
      resource(7, 'string', 'U'),
    ]));
    this.put(3, objectInstance(0, [
      resource(0, 'string', 'Acme'),
      resource(1, 'string', 'T-1'),
      resource(2, 'string', 'SN-42'),
      resource(3, 'string', '1.0.0'),
      multipleResource(6, 'integer', { 0: 1, 1: 5 }),
      multipleResource(7, 'integer', { 0: 3800, 1: 5000 }),
      resource(9, 'integer', 87),
      resource(10, 'integer', 512),
      multipleResource(11, 'integer', { 0: 0 }),
      resource(13, 'time', now),
      resource(14, 'string', '+01:00'),
      resource(16, 'string', 'UQ'),
    ]));
    this.put(5, objectInstance(0, [
      resource(1, 'string', ''),
      resource(3, 'integer', 0),
      resource(5, 'integer', 0),
      multipleResource(8, 'integer', { 0: 0 }),
      resource(9, 'integer', 2),
    ]));
  }

  private put(objectId: number, inst: ObjectInstance): void {
    const m = this.tree.get(objectId) ?? new Map<number, ObjectInstance>();
    m.set(inst.id, inst);
    this.tree.set(objectId, m);
  }

  /** The link-format registration payload. */
  links(): string {
    const ver = (o: number): string => (this.options.objectVersions?.[o] ? `;ver=${this.options.objectVersions[o]}` : '');
    const parts: string[] = [];
    for (const [o, insts] of [...this.tree.entries()].sort((a, b) => a[0] - b[0])) {
      if (ver(o) !== '') parts.push(`</${o}>${ver(o)}`);
      for (const i of [...insts.keys()].sort((a, b) => a - b)) parts.push(`</${o}/${i}>`);
    }
    return parts.join(',');
  }

  // -------------------------------------------------------------------------------------
  // Registration interface and Send

  async register(): Promise<string> {
    const q = [`ep=${this.endpoint}`, `lt=${this.options.lifetime ?? 300}`, `lwm2m=${this.version}`, `b=${this.options.binding ?? 'U'}`];
    if (this.options.queueMode === true) q.push('Q');
    const res = await this.coap.request(this.options.server, { method: 'POST', path: '/rd', query: q, payload: Buffer.from(this.links()), contentFormat: 40 });
    if (res.code !== '2.01') throw new Error(`register answered ${res.code}: ${res.payload.toString()}`);
    this.registrationId = res.locationPath[1];
    return this.registrationId as string;
  }

  async update(): Promise<string> {
    const res = await this.coap.request(this.options.server, { method: 'POST', path: `/rd/${this.registrationId}` });
    return res.code;
  }

  async deregister(): Promise<string> {
    const res = await this.coap.request(this.options.server, { method: 'DELETE', path: `/rd/${this.registrationId}` });
    return res.code;
  }

  /** Send (POST /dp) of the given paths' current values. */
  async send(paths: readonly string[], format: number = F.SenmlCbor): Promise<string> {
    const entries: CompositeEntry[] = [];
    for (const p of paths) {
      const path = parse(p);
      const node = this.get(path);
      if (node !== undefined) entries.push({ path, node });
    }
    const payload = this.formats.encodeComposite(format, entries, this.model);
    const res = await this.coap.request(this.options.server, { method: 'POST', path: '/dp', payload, contentFormat: format });
    return res.code;
  }

  async close(): Promise<void> {
    await this.coap.close();
  }

  // -------------------------------------------------------------------------------------
  // The tree

  get(path: LwM2mPath): Lwm2mNode | undefined {
    const [o, i, r, ri] = pathIds(path);
    if (o === undefined) return undefined;
    const insts = this.tree.get(o);
    if (insts === undefined) return undefined;
    if (i === undefined) return lwm2mObject(o, [...insts.values()]);
    const inst = insts.get(i);
    if (inst === undefined) return undefined;
    if (r === undefined) return inst;
    const res = inst.resources.find((x) => x.id === r);
    if (res === undefined) return undefined;
    if (ri === undefined) return res;
    if (res.kind !== 'multipleResource') return undefined;
    const v = (res.instances as ReadonlyMap<number, Lwm2mValue>).get(ri);
    return v === undefined ? undefined : ({ kind: 'resourceInstance', id: ri, type: res.type, value: v } as Lwm2mNode);
  }

  /** Sets one resource value and notifies observers (as a sensor reading would). */
  async set(pathText: string, value: Lwm2mValue): Promise<void> {
    const path = parse(pathText);
    const [o, i, r] = pathIds(path) as [number, number, number];
    const m = this.model.getResource(o, r)!;
    this.setResource(o, i, { kind: 'resource', id: r, type: m.type, value } as Lwm2mResource);
    await this.notifyChanged(path);
  }

  private setResource(o: number, i: number, r: Lwm2mResource): void {
    const inst = this.tree.get(o)?.get(i);
    if (inst === undefined) return;
    this.put(o, objectInstance(i, [...inst.resources.filter((x) => x.id !== r.id), r]));
  }

  /** Sends a notification to every observer of `changed` (or of a path above or below it). */
  async notifyChanged(changed: LwM2mPath): Promise<void> {
    for (const obs of [...this.observations.values()]) {
      if (!obs.paths.some((p) => isPathPrefix(p, changed) || isPathPrefix(changed, p))) continue;
      obs.seq += 1;
      const payload = obs.kind === 'single' ? this.encode(obs.format, obs.paths[0]!) : this.encodeComposite(obs.format, obs.paths);
      if (payload === undefined) continue;
      try {
        await this.coap.notify(obs.peer, obs.token, { code: '2.05', payload, contentFormat: obs.format, observe: obs.seq });
      } catch {
        this.observations.delete(obs.token.toString('hex'));
      }
    }
  }

  /** Sends one notification for an observation token (used after a server restart). */
  async notifyToken(tokenHex: string): Promise<void> {
    const obs = this.observations.get(tokenHex);
    if (obs === undefined) throw new Error(`no observation ${tokenHex}`);
    obs.seq += 1;
    const payload = obs.kind === 'single' ? this.encode(obs.format, obs.paths[0]!) : this.encodeComposite(obs.format, obs.paths);
    await this.coap.notify(obs.peer, obs.token, { code: '2.05', payload: payload ?? Buffer.alloc(0), contentFormat: obs.format, observe: obs.seq });
  }

  // -------------------------------------------------------------------------------------
  // Serving requests

  private encode(format: number, path: LwM2mPath): Buffer | undefined {
    const node = this.get(path);
    return node === undefined ? undefined : this.formats.encode(format, node, path, this.model);
  }

  private encodeComposite(format: number, paths: readonly LwM2mPath[]): Buffer {
    const entries: CompositeEntry[] = [];
    for (const p of paths) {
      const node = this.get(p);
      if (node !== undefined) entries.push({ path: p, node });
    }
    return this.formats.encodeComposite(format, entries, this.model);
  }

  private isSingle(path: LwM2mPath): boolean {
    if (path.level === 'resourceInstance') return true;
    if (path.level !== 'resource') return false;
    return this.model.getResource(path.objectId, path.resourceId)?.multiple === false;
  }

  /** The format to answer a read in, or a refusal. */
  private answerFormat(path: LwM2mPath, accept: number | undefined): number | OutgoingResponse {
    const single = this.isSingle(path);
    const allowed = this.allowedFormats();
    if (this.options.textOnly === true && !single) return text(this.options.treeRefusal ?? '4.06', 'only text/plain, one resource at a time');
    if (accept === undefined) return single ? F.TextPlain : this.version === '1.0' ? F.Tlv : F.SenmlCbor;
    if (!allowed.includes(accept)) return text('4.06', `content format ${accept} not supported`);
    if (SINGLE_ONLY.has(accept) && !single) return text('4.06', `content format ${accept} carries one value`);
    if (accept === F.OctetStream) {
      const m = path.level === 'resource' || path.level === 'resourceInstance' ? this.model.getResource(path.objectId, path.resourceId) : undefined;
      if (m?.type !== 'opaque') return text('4.06', 'octet-stream is for opaque resources');
    }
    return accept;
  }

  private handle(req: IncomingRequest): OutgoingResponse {
    this.seen.push({
      method: req.method,
      path: '/' + req.path.join('/'),
      accept: req.accept,
      contentFormat: req.contentFormat,
      query: [...req.query],
      observe: req.observe,
    });
    let path: LwM2mPath;
    try {
      path = pathFromIds(req.path.map((s) => {
        if (!/^\d+$/.test(s)) throw new Error('not an id');
        return Number(s);
      }));
    } catch {
      return text('4.04', 'no such path');
    }
    if (req.contentFormat !== undefined && req.payload.length > 0 && this.options.answerOnlyFormats?.includes(req.contentFormat) === true) {
      return text('4.15', `content format ${req.contentFormat} is produced here, not read`);
    }
    try {
      switch (req.method) {
        case 'GET':
          return this.onGet(req, path);
        case 'PUT':
          return req.payload.length === 0 && req.query.length > 0 ? this.onWriteAttributes(req, path) : this.onWrite(req, path, true);
        case 'POST':
          return this.onPost(req, path);
        case 'DELETE':
          return this.onDelete(path);
        case 'FETCH':
          return this.onFetch(req);
        case 'iPATCH':
          return this.onWriteComposite(req);
        default:
          return text('4.05', 'method not allowed');
      }
    } catch (err) {
      return text('4.00', (err as Error).message);
    }
  }

  private onGet(req: IncomingRequest, path: LwM2mPath): OutgoingResponse {
    if (req.accept === F.LinkFormat) return this.onDiscover(path);
    const node = this.get(path);
    if (node === undefined) return text('4.04', 'not found');
    const f = this.answerFormat(path, req.accept);
    if (typeof f !== 'number') return f;
    const payload = this.formats.encode(f, node, path, this.model);
    const key = req.token.toString('hex');
    if (req.observe === 0) {
      const prev = this.observations.get(key);
      const obs: DeviceObservation = prev ?? { token: req.token, peer: req.peer, kind: 'single', paths: [path], format: f, seq: 0 };
      this.observations.set(key, obs);
      return { code: '2.05', payload, contentFormat: f, observe: obs.seq };
    }
    if (req.observe === 1) this.observations.delete(key);
    return { code: '2.05', payload, contentFormat: f };
  }

  private onDiscover(path: LwM2mPath): OutgoingResponse {
    if (this.get(path) === undefined) return text('4.04', 'not found');
    const links: Link[] = [];
    const attrs = (p: string): Link['attributes'] =>
      (this.attributes.get(p) ?? []).map((q) => {
        const [name, value] = q.split('=');
        return value === undefined ? { name: name! } : { name: name!, value };
      });
    const addInstance = (o: number, inst: ObjectInstance, withResources: boolean): void => {
      links.push({ uri: `/${o}/${inst.id}`, attributes: attrs(`/${o}/${inst.id}`) });
      if (!withResources) return;
      for (const r of inst.resources) {
        const dim = r.kind === 'multipleResource' ? [{ name: 'dim', value: String(r.instances.size) }] : [];
        links.push({ uri: `/${o}/${inst.id}/${r.id}`, attributes: [...dim, ...attrs(`/${o}/${inst.id}/${r.id}`)] });
      }
    };
    const [o, i, r] = pathIds(path) as [number, number | undefined, number | undefined];
    if (i === undefined) {
      links.push({ uri: `/${o}`, attributes: attrs(`/${o}`) });
      for (const inst of this.tree.get(o)!.values()) addInstance(o, inst, true);
    } else if (r === undefined) {
      addInstance(o, this.tree.get(o)!.get(i)!, true);
    } else {
      const res = this.get(path) as Lwm2mResource;
      const dim = res.kind === 'multipleResource' ? [{ name: 'dim', value: String(res.instances.size) }] : [];
      links.push({ uri: `/${o}/${i}/${r}`, attributes: [...dim, ...attrs(`/${o}/${i}/${r}`)] });
    }
    return { code: '2.05', payload: Buffer.from(formatLinkFormat(links)), contentFormat: F.LinkFormat };
  }

  private onWriteAttributes(req: IncomingRequest, path: LwM2mPath): OutgoingResponse {
    if (this.get(path) === undefined) return text('4.04', 'not found');
    const key = formatPath(path);
    const current = new Map((this.attributes.get(key) ?? []).map((q) => [q.split('=')[0]!, q]));
    for (const q of req.query) {
      const name = q.split('=')[0]!;
      if (q.includes('=')) current.set(name, q);
      else current.delete(name);
    }
    this.attributes.set(key, [...current.values()]);
    return { code: '2.04' };
  }

  private decodeBody(req: IncomingRequest, path: LwM2mPath): Lwm2mNode | OutgoingResponse {
    const cf = req.contentFormat;
    if (cf === undefined || !this.allowedFormats().includes(cf)) return text('4.15', `content format ${String(cf)} not supported`);
    return this.formats.decode(cf, req.payload, path, this.model);
  }

  private writable(o: number, r: number): boolean {
    const ops = this.model.getResource(o, r)?.operations;
    return ops === 'W' || ops === 'RW';
  }

  private onWrite(req: IncomingRequest, path: LwM2mPath, replace: boolean): OutgoingResponse {
    if (path.level === 'object' || path.level === 'root') return text('4.05', 'cannot write an object');
    const [o, i] = pathIds(path) as [number, number];
    const inst = this.tree.get(o)?.get(i);
    if (inst === undefined) return text('4.04', 'not found');
    const node = this.decodeBody(req, path);
    if (!('kind' in node)) return node;
    let resources: Lwm2mResource[];
    if (node.kind === 'objectInstance') resources = [...node.resources];
    else if (node.kind === 'resource' || node.kind === 'multipleResource') resources = [node];
    else if (node.kind === 'resourceInstance') {
      const [, , r] = pathIds(path) as [number, number, number];
      const current = inst.resources.find((x) => x.id === r);
      if (current === undefined || current.kind !== 'multipleResource') return text('4.04', 'not found');
      const map = new Map(current.instances as ReadonlyMap<number, Lwm2mValue>);
      map.set(node.id, node.value);
      resources = [{ ...current, instances: map } as Lwm2mResource];
    } else return text('4.00', 'unexpected content');
    for (const r of resources) if (!this.writable(o, r.id)) return text('4.05', `resource ${r.id} is not writable`);
    let kept = inst.resources.filter((x) => !resources.some((r) => r.id === x.id));
    if (replace && node.kind === 'objectInstance') kept = kept.filter((x) => !this.writable(o, x.id));
    this.put(o, objectInstance(i, [...kept, ...resources]));
    void this.notifyChanged(path);
    return { code: '2.04' };
  }

  private onPost(req: IncomingRequest, path: LwM2mPath): OutgoingResponse {
    if (path.level === 'object') return this.onCreate(req, path);
    if (path.level === 'resource') {
      const m = this.model.getResource(path.objectId, path.resourceId);
      if (m?.operations === 'E') {
        if (this.get(pathFromIds([path.objectId, path.instanceId])) === undefined) return text('4.04', 'not found');
        this.executed.push({ path: formatPath(path), args: req.payload.toString('utf8') });
        return { code: '2.04' };
      }
    }
    return this.onWrite(req, path, false);
  }

  private onCreate(req: IncomingRequest, path: Extract<LwM2mPath, { level: 'object' }>): OutgoingResponse {
    const o = path.objectId;
    const cf = req.contentFormat;
    if (cf === undefined || !this.allowedFormats().includes(cf)) return text('4.15', 'unsupported content format');
    const insts = this.tree.get(o) ?? new Map<number, ObjectInstance>();
    let created: ObjectInstance;
    const top = this.formats.decode(cf, req.payload, cf === F.Tlv && req.payload[0] !== undefined && (req.payload[0] & 0xc0) !== 0 ? pathFromIds([o, 0]) : path, this.model);
    if (top.kind === 'object') {
      const only = top.instances[0];
      if (top.instances.length !== 1 || only === undefined) return text('4.00', 'one instance at a time');
      created = only;
    } else if (top.kind === 'objectInstance') {
      // TLV without an instance header: the device picks the id.
      let id = 0;
      while (insts.has(id)) id++;
      created = objectInstance(id, top.resources);
    } else return text('4.00', 'unexpected content');
    if (insts.has(created.id)) return text('4.00', `instance ${created.id} exists`);
    this.put(o, created);
    return { code: '2.01', locationPath: [String(o), String(created.id)] };
  }

  private onDelete(path: LwM2mPath): OutgoingResponse {
    if (path.level !== 'objectInstance') return text('4.05', 'delete an object instance');
    const insts = this.tree.get(path.objectId);
    if (insts?.delete(path.instanceId) !== true) return text('4.04', 'not found');
    return { code: '2.02' };
  }

  private onFetch(req: IncomingRequest): OutgoingResponse {
    const cf = req.contentFormat;
    if (cf === undefined || !COMPOSITE.has(cf) || !this.allowedFormats().includes(cf)) return text('4.15', 'unsupported content format');
    const paths = this.formats.decodePaths(cf, req.payload);
    const accept = req.accept ?? cf;
    if (!COMPOSITE.has(accept) || !this.allowedFormats().includes(accept)) return text('4.06', 'not acceptable');
    const payload = this.encodeComposite(accept, paths);
    const key = req.token.toString('hex');
    if (req.observe === 0) {
      const obs: DeviceObservation = { token: req.token, peer: req.peer, kind: 'composite', paths, format: accept, seq: 0 };
      this.observations.set(key, obs);
      return { code: '2.05', payload, contentFormat: accept, observe: 0 };
    }
    if (req.observe === 1) this.observations.delete(key);
    return { code: '2.05', payload, contentFormat: accept };
  }

  private onWriteComposite(req: IncomingRequest): OutgoingResponse {
    const cf = req.contentFormat;
    if (cf === undefined || !COMPOSITE.has(cf) || !this.allowedFormats().includes(cf)) return text('4.15', 'unsupported content format');
    const entries = this.formats.decodeComposite(cf, req.payload, this.model);
    for (const e of entries) {
      const [o, i, r] = pathIds(e.path) as [number, number, number | undefined];
      if (r !== undefined && !this.writable(o, r)) return text('4.05', `${formatPath(e.path)} is not writable`);
      const inst = this.tree.get(o)?.get(i);
      if (inst === undefined) return text('4.04', `${formatPath(e.path)} not found`);
    }
    for (const e of entries) {
      const [o, i] = pathIds(e.path) as [number, number];
      if (e.node.kind === 'resource' || e.node.kind === 'multipleResource') this.setResource(o, i, e.node);
      else if (e.node.kind === 'resourceInstance') {
        const [, , r] = pathIds(e.path) as [number, number, number];
        const cur = this.tree.get(o)!.get(i)!.resources.find((x) => x.id === r);
        if (cur?.kind === 'multipleResource') {
          const map = new Map(cur.instances as ReadonlyMap<number, Lwm2mValue>);
          map.set(e.node.id, e.node.value);
          this.setResource(o, i, { ...cur, instances: map } as Lwm2mResource);
        }
      }
    }
    return { code: '2.04' };
  }
}

function parse(text: string): LwM2mPath {
  return pathFromIds(text.split('/').filter((s) => s.length > 0).map(Number));
}

/**
 * The device side of the LwM2M Device Management interface (TS Core §6.3) over a small
 * in-memory object tree: Read, Discover, Write (replace and partial update),
 * Write-Attributes, Execute, Create and Delete (of instances of the objects the device lets
 * the server create, e.g. /1), and the 1.1 composite operations Read-Composite and
 * Write-Composite. Which resources exist, their types and whether they can be
 * read, written or executed come from the object model in the version the device
 * announced; what a resource holds and what a write or execute does comes from the
 * device (`ResourceSpec`). Outcomes are CoAP responses as values, never throws.
 */
import type { IncomingRequest, OutgoingResponse } from '../coap/types';
import { ContentFormat, type ContentFormatRegistry, type Link, type LinkAttribute, type Lwm2mNode, type Lwm2mValue, type Lwm2mResource } from '../lwm2m/core/content-formats';
import { formatPath, pathFromIds, pathIds, type LwM2mPath } from '../lwm2m/core/model/path';
import type { CompositeEntry } from '../lwm2m/core/content-formats/codec';
import type { Lwm2mModel, ResourceModel, ValueType } from '../lwm2m/core/model/types';
import { isLwm2mFotaError } from '../errors';

/** What a write or execute handler answers: nothing (2.04) or a CoAP error code. */
export type ResourceOutcome = undefined | { readonly code: string; readonly message?: string };

/** What the device holds in one resource, and what writing or executing it does. */
export interface ResourceSpec {
  readonly id: number;
  /** The value, or resource-instance id → value for a multiple resource. Absent: the resource holds nothing (executable). */
  readonly read?: () => Lwm2mValue | ReadonlyMap<number, Lwm2mValue>;
  /** A write of one value (the model has checked that the resource is writable). */
  readonly write?: (value: Lwm2mValue) => ResourceOutcome;
  /** An execute with its arguments (text, possibly empty). */
  readonly execute?: (args: string) => ResourceOutcome;
}

export interface ObjectInstanceSpec {
  readonly objectId: number;
  readonly instanceId: number;
  readonly resources: readonly ResourceSpec[];
}

/** Write-Attributes (TS Core §5.1.2) the device keeps per path. */
export interface NotificationAttributes {
  pmin?: number;
  pmax?: number;
  gt?: number;
  lt?: number;
  st?: number;
}

const ATTRIBUTE_NAMES = ['pmin', 'pmax', 'gt', 'lt', 'st'] as const;

/** The formats a device of each LwM2M version reads and writes (besides opaque for opaque resources). */
export function formatsForVersion(lwm2mVersion: '1.0' | '1.1' | '1.2'): { single: number[]; multi: number[] } {
  const F = ContentFormat;
  switch (lwm2mVersion) {
    case '1.0':
      return { single: [F.TextPlain, F.Tlv], multi: [F.Tlv] };
    case '1.1':
      return { single: [F.TextPlain, F.Tlv, F.SenmlJson, F.SenmlCbor, F.Cbor], multi: [F.Tlv, F.SenmlJson, F.SenmlCbor] };
    case '1.2':
      return {
        single: [F.TextPlain, F.Tlv, F.SenmlJson, F.SenmlCbor, F.Cbor, F.Lwm2mCbor],
        multi: [F.Tlv, F.SenmlJson, F.SenmlCbor, F.Lwm2mCbor],
      };
  }
}

function fail(code: string, message: string): OutgoingResponse {
  return { code, payload: Buffer.from(message, 'utf8'), contentFormat: ContentFormat.TextPlain };
}

interface Instance {
  readonly objectId: number;
  readonly instanceId: number;
  readonly resources: Map<number, ResourceSpec>;
}

export interface ObjectTreeOptions {
  readonly model: Lwm2mModel;
  readonly formats: ContentFormatRegistry;
  readonly lwm2mVersion: '1.0' | '1.1' | '1.2';
  /** Object versions the device announced (object id → "1.1"); absent = 1.0. */
  readonly objectVersions: ReadonlyMap<number, string>;
  /** Called after a successful write (path of what was written) so observers can be told. */
  readonly onWritten?: (path: LwM2mPath) => void;
  /** Formats the device speaks instead of its version's (see DeviceOptions.contentFormats). */
  readonly contentFormats?: readonly number[];
  /** Root link without rt="oma.lwm2m". */
  readonly bareRootLink?: boolean;
  /**
   * Objects in which the server may Create instances, and Delete the instances it created
   * (TS Core §6.3.6, §6.3.7). Default none: Create and Delete answer 4.05.
   */
  readonly creatableObjects?: readonly number[];
  /** Called after Create or Delete (path of the instance): the registration links changed. */
  readonly onInstancesChanged?: (path: LwM2mPath) => void;
}

/** The formats that carry absolute paths: Read-Composite, Write-Composite (TS Core 1.1 §6.3.8, §6.3.9). */
const COMPOSITE_FORMATS: ReadonlySet<number> = new Set([ContentFormat.SenmlJson, ContentFormat.SenmlCbor, ContentFormat.Lwm2mCbor]);

export class ObjectTree {
  private readonly instances = new Map<number, Map<number, Instance>>();
  /** "objectId/instanceId" of the instances the server created (only those may be deleted). */
  private readonly created = new Set<string>();
  private readonly attributes = new Map<string, NotificationAttributes>();
  private readonly singleFormats: ReadonlySet<number>;
  private readonly multiFormats: ReadonlySet<number>;

  constructor(private readonly options: ObjectTreeOptions) {
    const only = options.contentFormats;
    const f = only === undefined ? formatsForVersion(options.lwm2mVersion) : { single: [...only], multi: [...only] };
    this.singleFormats = new Set(f.single);
    this.multiFormats = new Set(f.multi);
  }

  get model(): Lwm2mModel {
    return this.options.model;
  }

  /** Adds an instance; resources the model (in the device's object version) does not define are left out. */
  add(spec: ObjectInstanceSpec): void {
    const resources = new Map<number, ResourceSpec>();
    for (const r of spec.resources) {
      if (this.options.model.getResource(spec.objectId, r.id) !== undefined) resources.set(r.id, r);
    }
    let byId = this.instances.get(spec.objectId);
    if (!byId) this.instances.set(spec.objectId, (byId = new Map()));
    byId.set(spec.instanceId, { objectId: spec.objectId, instanceId: spec.instanceId, resources });
  }

  /** Whether `path` names an object, instance, resource or resource instance the device has. */
  exists(path: LwM2mPath): boolean {
    if (path.level === 'root') return true;
    const o = this.instances.get(path.objectId);
    if (!o) return false;
    if (path.level === 'object') return true;
    const inst = o.get(path.instanceId);
    if (!inst) return false;
    if (path.level === 'objectInstance') return true;
    if (!inst.resources.has(path.resourceId)) return false;
    if (path.level === 'resource') return true;
    const v = inst.resources.get(path.resourceId)!.read?.();
    return v instanceof Map && v.has(path.resourceInstanceId);
  }

  /** Whether the device has this resource (in its object version). */
  hasResource(objectId: number, instanceId: number, resourceId: number): boolean {
    return this.instances.get(objectId)?.get(instanceId)?.resources.has(resourceId) ?? false;
  }

  /** Registration links: `</1/0>,</3/0>,</5>;ver=1.1,</5/0>` (TS Core §6.2.1). */
  registrationLinks(): Link[] {
    const links: Link[] = [];
    if (this.options.lwm2mVersion !== '1.0') {
      const cts = [...new Set([...this.multiFormats, ...this.singleFormats])].filter((f) => f !== ContentFormat.TextPlain && f !== ContentFormat.Cbor);
      links.push({
        uri: '/',
        attributes: [
          ...(this.options.bareRootLink === true ? [] : [{ name: 'rt', value: 'oma.lwm2m', quoted: true }]),
          // A list of formats is a quoted, space-separated value (TS Transport §6.2.1, RFC 6690 ct).
          cts.length === 1 ? { name: 'ct', value: String(cts[0]) } : { name: 'ct', value: cts.join(' '), quoted: true },
        ],
      });
    }
    for (const objectId of [...this.instances.keys()].sort((a, b) => a - b)) {
      const ver = this.options.objectVersions.get(objectId);
      if (ver !== undefined && ver !== '1.0') links.push({ uri: `/${objectId}`, attributes: [{ name: 'ver', value: ver }] });
      for (const instanceId of [...this.instances.get(objectId)!.keys()].sort((a, b) => a - b)) {
        links.push({ uri: `/${objectId}/${instanceId}`, attributes: [] });
      }
    }
    return links;
  }

  /** The attributes in force for `path` (its own, then its ancestors', TS Core §5.1.1). */
  attributesFor(path: LwM2mPath): NotificationAttributes {
    const ids = pathIds(path);
    const out: NotificationAttributes = {};
    for (let n = 1; n <= ids.length; n++) {
      const a = this.attributes.get(`/${ids.slice(0, n).join('/')}`);
      if (a) Object.assign(out, a);
    }
    return out;
  }

  // -------------------------------------------------------------------------------------
  // Reading

  /** Reads `path` into a node, or the CoAP error code. */
  read(path: LwM2mPath): { node: Lwm2mNode } | { code: string; message: string } {
    const o = path.level === 'root' ? undefined : this.instances.get(path.objectId);
    if (path.level === 'root' || o === undefined) return { code: '4.04', message: `${formatPath(path)} not found` };
    if (path.level === 'object') {
      return { node: { kind: 'object', id: path.objectId, instances: [...o.values()].sort((a, b) => a.instanceId - b.instanceId).map((i) => this.instanceNode(i)) } };
    }
    const inst = o.get(path.instanceId);
    if (!inst) return { code: '4.04', message: `${formatPath(path)} not found` };
    if (path.level === 'objectInstance') return { node: this.instanceNode(inst) };
    const spec = inst.resources.get(path.resourceId);
    const rm = this.options.model.getResource(path.objectId, path.resourceId);
    if (!spec || !rm) return { code: '4.04', message: `${formatPath(path)} not found` };
    if (!rm.operations.includes('R') || rm.type === 'none' || !spec.read) return { code: '4.05', message: `${formatPath(path)} cannot be read` };
    const node = this.resourceNode(spec, rm);
    if (!node) return { code: '4.04', message: `${formatPath(path)} has no value` };
    if (path.level === 'resource') return { node };
    if (node.kind !== 'multipleResource') return { code: '4.04', message: `${formatPath(path)} not found` };
    const v = (node.instances as ReadonlyMap<number, Lwm2mValue>).get(path.resourceInstanceId);
    if (v === undefined) return { code: '4.04', message: `${formatPath(path)} not found` };
    return { node: { kind: 'resourceInstance', id: path.resourceInstanceId, type: node.type, value: v } as Lwm2mNode };
  }

  private instanceNode(inst: Instance): Lwm2mNode & { kind: 'objectInstance' } {
    const resources: Lwm2mResource[] = [];
    for (const [id, spec] of [...inst.resources].sort((a, b) => a[0] - b[0])) {
      const rm = this.options.model.getResource(inst.objectId, id);
      if (!rm || !rm.operations.includes('R') || rm.type === 'none' || !spec.read) continue;
      const node = this.resourceNode(spec, rm);
      if (node) resources.push(node);
    }
    return { kind: 'objectInstance', id: inst.instanceId, resources };
  }

  private resourceNode(spec: ResourceSpec, rm: ResourceModel): Lwm2mResource | undefined {
    const v = spec.read?.();
    if (v === undefined) return undefined;
    const type = rm.type as ValueType;
    if (rm.multiple) {
      const map = v instanceof Map ? (v as ReadonlyMap<number, Lwm2mValue>) : new Map([[0, v as Lwm2mValue]]);
      return { kind: 'multipleResource', id: spec.id, type, instances: map } as Lwm2mResource;
    }
    return { kind: 'resource', id: spec.id, type, value: v } as Lwm2mResource;
  }

  /**
   * The format to answer a read of `path` in: the Accept option when the device speaks it
   * (else undefined → 4.06), by default text for a single value (opaque for an opaque one)
   * and TLV for anything larger (TS Core §7.1: TLV is the 1.0 multi-value format).
   */
  responseFormat(path: LwM2mPath, accept: number | undefined): number | undefined {
    const single = path.level === 'resource' || path.level === 'resourceInstance';
    const rm = single ? this.options.model.getResource(path.objectId, path.resourceId) : undefined;
    const singleValue = single && rm !== undefined && (!rm.multiple || path.level === 'resourceInstance');
    if (accept === undefined) {
      if (singleValue && rm?.type === 'opaque') return ContentFormat.OctetStream;
      const only = this.options.contentFormats?.[0];
      if (only !== undefined) return only;
      if (singleValue) return ContentFormat.TextPlain;
      return this.options.lwm2mVersion === '1.2' ? ContentFormat.Lwm2mCbor : ContentFormat.Tlv;
    }
    if (accept === ContentFormat.OctetStream) return singleValue && rm?.type === 'opaque' ? accept : undefined;
    if (singleValue) return this.singleFormats.has(accept) ? accept : undefined;
    return this.multiFormats.has(accept) ? accept : undefined;
  }

  /** Encodes `node` at `path` in `format`; undefined when the codec refuses (e.g. text for an instance). */
  encode(format: number, node: Lwm2mNode, path: LwM2mPath): Buffer | undefined {
    try {
      return this.options.formats.encode(format, node, path, this.options.model);
    } catch (err) {
      if (isLwm2mFotaError(err)) return undefined;
      throw err;
    }
  }

  /** The whole Read answer for a request (Accept honoured). */
  readResponse(path: LwM2mPath, accept: number | undefined): OutgoingResponse & { format?: number } {
    const r = this.read(path);
    if ('code' in r) return fail(r.code, r.message);
    const format = this.responseFormat(path, accept);
    if (format === undefined) return fail('4.06', `cannot answer ${formatPath(path)} in content format ${accept}`);
    const payload = this.encode(format, r.node, path);
    if (payload === undefined) return fail('4.06', `cannot answer ${formatPath(path)} in content format ${format}`);
    return { code: '2.05', payload, contentFormat: format, format };
  }

  // -------------------------------------------------------------------------------------
  // Discover (TS Core §6.3.3: GET with Accept application/link-format)

  discover(path: LwM2mPath): OutgoingResponse {
    if (path.level === 'root') return fail('4.00', 'Discover needs an object');
    const o = this.instances.get(path.objectId);
    if (!o) return fail('4.04', `${formatPath(path)} not found`);
    const links: Link[] = [];
    const withAttrs = (p: LwM2mPath, extra: Link['attributes'] = []): Link => {
      const a = this.attributes.get(formatPath(p)) ?? {};
      const attrs = [...extra, ...ATTRIBUTE_NAMES.filter((n) => a[n] !== undefined).map((n) => ({ name: n, value: String(a[n]) }))];
      return { uri: formatPath(p), attributes: attrs };
    };
    const resourceLinks = (inst: Instance): void => {
      for (const id of [...inst.resources.keys()].sort((a, b) => a - b)) {
        const rm = this.options.model.getResource(inst.objectId, id);
        const spec = inst.resources.get(id)!;
        const extra: LinkAttribute[] = [];
        if (rm?.multiple && spec.read) {
          const v = spec.read();
          extra.push({ name: 'dim', value: String(v instanceof Map ? v.size : 1) });
        }
        links.push(withAttrs(pathFromIds([inst.objectId, inst.instanceId, id]), extra));
      }
    };
    if (path.level === 'object') {
      const ver = this.options.objectVersions.get(path.objectId);
      links.push(withAttrs(path, ver !== undefined && ver !== '1.0' ? [{ name: 'ver', value: ver }] : []));
      for (const inst of [...o.values()].sort((a, b) => a.instanceId - b.instanceId)) {
        links.push(withAttrs(pathFromIds([inst.objectId, inst.instanceId])));
        resourceLinks(inst);
      }
    } else {
      const inst = o.get(path.instanceId);
      if (!inst) return fail('4.04', `${formatPath(path)} not found`);
      if (path.level === 'objectInstance') {
        links.push(withAttrs(path));
        resourceLinks(inst);
      } else {
        if (!inst.resources.has(path.resourceId)) return fail('4.04', `${formatPath(path)} not found`);
        const before = links.length;
        resourceLinks({ ...inst, resources: new Map([[path.resourceId, inst.resources.get(path.resourceId)!]]) });
        if (links.length === before) return fail('4.04', `${formatPath(path)} not found`);
      }
    }
    return { code: '2.05', payload: this.options.formats.encodeLinks(links), contentFormat: ContentFormat.LinkFormat };
  }

  // -------------------------------------------------------------------------------------
  // Write-Attributes (TS Core §6.3.4: PUT with Uri-Query and no payload)

  writeAttributes(path: LwM2mPath, query: readonly string[]): OutgoingResponse {
    if (path.level === 'root') return fail('4.00', 'Write-Attributes needs a path');
    if (!this.exists(path)) return fail('4.04', `${formatPath(path)} not found`);
    const next: NotificationAttributes = { ...(this.attributes.get(formatPath(path)) ?? {}) };
    for (const q of query) {
      const eq = q.indexOf('=');
      const name = eq < 0 ? q : q.slice(0, eq);
      if (!(ATTRIBUTE_NAMES as readonly string[]).includes(name)) {
        // epmin/epmax/edge/con/hqmax (1.2) are accepted and ignored: the emulator does not implement them.
        if (['epmin', 'epmax', 'edge', 'con', 'hqmax'].includes(name)) continue;
        return fail('4.00', `unknown attribute "${name}"`);
      }
      const key = name as (typeof ATTRIBUTE_NAMES)[number];
      if (eq < 0) {
        delete next[key]; // "pmin" without a value removes it (TS Core §5.1.2)
        continue;
      }
      const n = Number(q.slice(eq + 1));
      if (!Number.isFinite(n) || ((key === 'pmin' || key === 'pmax') && (!Number.isInteger(n) || n < 0))) return fail('4.00', `bad value for ${name}`);
      next[key] = n;
    }
    if (next.pmin !== undefined && next.pmax !== undefined && next.pmax !== 0 && next.pmax < next.pmin) return fail('4.00', 'pmax is below pmin');
    this.attributes.set(formatPath(path), next);
    return { code: '2.04' };
  }

  // -------------------------------------------------------------------------------------
  // Write (TS Core §6.3.3: PUT replaces, POST updates partially)

  write(path: LwM2mPath, req: IncomingRequest): OutgoingResponse {
    if (path.level === 'root' || path.level === 'object') return fail('4.05', 'Write needs an object instance or a resource');
    const inst = this.instances.get(path.objectId)?.get(path.instanceId);
    if (!inst) return fail('4.04', `${formatPath(path)} not found`);
    if (path.level !== 'objectInstance' && !inst.resources.has(path.resourceId)) return fail('4.04', `${formatPath(path)} not found`);
    if (req.method === 'POST' && path.level !== 'objectInstance') return fail('4.05', 'a partial update (POST) addresses an object instance');
    const format = req.contentFormat ?? (path.level === 'objectInstance' ? ContentFormat.Tlv : ContentFormat.TextPlain);
    const rm = path.level === 'objectInstance' ? undefined : this.options.model.getResource(path.objectId, path.resourceId);
    const okFormat =
      path.level === 'objectInstance'
        ? this.multiFormats.has(format)
        : this.singleFormats.has(format) || this.multiFormats.has(format) || (format === ContentFormat.OctetStream && rm?.type === 'opaque');
    if (!okFormat) return fail('4.15', `content format ${format} is not supported here`);
    let node: Lwm2mNode;
    try {
      node = this.options.formats.decode(format, req.payload, path, this.options.model);
    } catch (err) {
      return fail('4.00', isLwm2mFotaError(err) ? err.message : String(err));
    }
    const values: Array<{ id: number; value: Lwm2mValue }> = [];
    const collect = (r: Lwm2mNode): string | undefined => {
      if (r.kind === 'resource') values.push({ id: r.id, value: r.value });
      else if (r.kind === 'multipleResource') {
        for (const v of (r.instances as ReadonlyMap<number, Lwm2mValue>).values()) values.push({ id: r.id, value: v });
      } else if (r.kind === 'resourceInstance') values.push({ id: path.level === 'resourceInstance' ? path.resourceId : r.id, value: r.value });
      else return 'unexpected node';
      return undefined;
    };
    if (node.kind === 'objectInstance') for (const r of node.resources) collect(r);
    else if (collect(node) !== undefined) return fail('4.00', 'the payload does not match the path');
    // Check every target first so that a refused write changes nothing.
    for (const v of values) {
      const spec = inst.resources.get(v.id);
      const m = this.options.model.getResource(path.objectId, v.id);
      if (!spec || !m) return fail('4.04', `/${path.objectId}/${path.instanceId}/${v.id} not found`);
      if (!m.operations.includes('W') || !spec.write) return fail('4.05', `/${path.objectId}/${path.instanceId}/${v.id} cannot be written`);
    }
    for (const v of values) {
      const out = inst.resources.get(v.id)!.write!(v.value);
      if (out !== undefined) return fail(out.code, out.message ?? '');
      this.options.onWritten?.(pathFromIds([path.objectId, path.instanceId, v.id]));
    }
    return { code: '2.04' };
  }

  // -------------------------------------------------------------------------------------
  // Execute (TS Core §6.3.5: POST on a resource)

  execute(path: LwM2mPath, args: Buffer): OutgoingResponse {
    if (path.level !== 'resource') return fail('4.05', 'Execute addresses a resource');
    const spec = this.instances.get(path.objectId)?.get(path.instanceId)?.resources.get(path.resourceId);
    const m = this.options.model.getResource(path.objectId, path.resourceId);
    if (!spec || !m) return fail('4.04', `${formatPath(path)} not found`);
    if (!m.operations.includes('E') || !spec.execute) return fail('4.05', `${formatPath(path)} cannot be executed`);
    const out = spec.execute(args.toString('utf8'));
    return out === undefined ? { code: '2.04' } : fail(out.code, out.message ?? '');
  }

  // -------------------------------------------------------------------------------------
  // Create and Delete (TS Core §6.3.6: POST on an object; §6.3.7: DELETE on an instance)

  /**
   * Creates an instance of `path` (an object) from the request body: an object holding one
   * instance (its id chosen by the server), or, in TLV, the resources alone (the device
   * chooses the lowest free id). Answers 2.01 with the new instance's Location-Path.
   */
  create(path: LwM2mPath, req: IncomingRequest): OutgoingResponse {
    if (path.level !== 'object') return fail('4.05', 'Create addresses an object');
    const objectId = path.objectId;
    const objectModel = this.options.model.getObject(objectId);
    if (objectModel === undefined) return fail('4.04', `${formatPath(path)} not found`);
    if (!(this.options.creatableObjects ?? []).includes(objectId)) return fail('4.05', `instances of ${formatPath(path)} cannot be created`);
    const format = req.contentFormat ?? ContentFormat.Tlv;
    if (!this.multiFormats.has(format)) return fail('4.15', `content format ${format} is not supported here`);
    const existing = this.instances.get(objectId) ?? new Map<number, Instance>();
    let freeId = 0;
    while (existing.has(freeId)) freeId++;
    let instance: { id: number; resources: readonly Lwm2mResource[] };
    try {
      // A TLV whose first entry is a resource (kind bits not 00) carries no instance id.
      if (format === ContentFormat.Tlv && req.payload.length > 0 && req.payload[0]! >> 6 !== 0) {
        const node = this.options.formats.decode(format, req.payload, pathFromIds([objectId, freeId]), this.options.model);
        if (node.kind !== 'objectInstance') return fail('4.00', 'the payload is not an object instance');
        instance = node;
      } else {
        const node = this.options.formats.decode(format, req.payload, path, this.options.model);
        if (node.kind !== 'object' || node.instances.length !== 1) return fail('4.00', 'Create takes exactly one object instance');
        instance = node.instances[0]!;
      }
    } catch (err) {
      return fail('4.00', isLwm2mFotaError(err) ? err.message : String(err));
    }
    const id = instance.id;
    if (id > 0xfffe) return fail('4.00', 'object instance id 65535 is reserved');
    if (existing.has(id)) return fail('4.00', `${formatPath(path)}/${id} already exists`);
    if (!objectModel.multiple && existing.size > 0) return fail('4.00', `${formatPath(path)} has a single instance`);
    const values = new Map<number, Lwm2mValue | ReadonlyMap<number, Lwm2mValue>>();
    for (const r of instance.resources) {
      const m = this.options.model.getResource(objectId, r.id);
      if (m === undefined || m.type === 'none' || m.operations === 'E' || m.operations === '') return fail('4.00', `${formatPath(path)}/${id}/${r.id} cannot be given a value`);
      values.set(r.id, r.kind === 'multipleResource' ? new Map(r.instances as ReadonlyMap<number, Lwm2mValue>) : (r.value as Lwm2mValue));
    }
    const missing = objectModel.resources.filter((m) => m.mandatory && m.operations !== 'E' && m.type !== 'none' && !values.has(m.id)).map((m) => m.id);
    if (missing.length > 0) return fail('4.00', `mandatory resource(s) ${missing.join(', ')} missing`);
    // The new instance holds what it was given; Write changes it like any other instance.
    const resources: ResourceSpec[] = [...values.keys()].map((rid) => ({
      id: rid,
      read: () => values.get(rid)!,
      write: (v: Lwm2mValue) => {
        values.set(rid, this.options.model.getResource(objectId, rid)?.multiple === true ? new Map([[0, v]]) : v);
        return undefined;
      },
    }));
    this.add({ objectId, instanceId: id, resources });
    this.created.add(`${objectId}/${id}`);
    const created = pathFromIds([objectId, id]);
    this.options.onInstancesChanged?.(created);
    return { code: '2.01', locationPath: [String(objectId), String(id)] };
  }

  /** Deletes an instance the server created; the device's own instances (/1/0, /3/0 …) are 4.05. */
  delete(path: LwM2mPath): OutgoingResponse {
    if (path.level !== 'objectInstance') return fail('4.05', 'Delete addresses an object instance');
    const byId = this.instances.get(path.objectId);
    if (byId?.get(path.instanceId) === undefined) return fail('4.04', `${formatPath(path)} not found`);
    if (!this.created.has(`${path.objectId}/${path.instanceId}`)) return fail('4.05', `${formatPath(path)} cannot be deleted`);
    byId.delete(path.instanceId);
    this.created.delete(`${path.objectId}/${path.instanceId}`);
    const prefix = formatPath(path);
    for (const key of [...this.attributes.keys()]) if (key === prefix || key.startsWith(`${prefix}/`)) this.attributes.delete(key);
    this.options.onInstancesChanged?.(path);
    return { code: '2.02' };
  }

  // -------------------------------------------------------------------------------------
  // Read-Composite and Write-Composite (TS Core 1.1 §6.3.8, §6.3.9: FETCH and iPATCH on /)

  /** The composite formats this device speaks. */
  private compositeFormat(format: number | undefined): boolean {
    return format !== undefined && COMPOSITE_FORMATS.has(format) && this.multiFormats.has(format);
  }

  /**
   * The Read-Composite answer for `paths` in `format`. Paths the device does not have (or
   * cannot read) are left out of the answer; when none is readable the answer is 4.04.
   */
  compositeRead(paths: readonly LwM2mPath[], format: number): OutgoingResponse {
    const entries: CompositeEntry[] = [];
    for (const p of paths) {
      const r = this.read(p);
      if ('node' in r) entries.push({ path: p, node: r.node });
    }
    if (entries.length === 0) return fail('4.04', 'none of the paths can be read');
    try {
      return { code: '2.05', payload: this.options.formats.encodeComposite(format, entries, this.options.model), contentFormat: format };
    } catch (err) {
      return fail('4.06', isLwm2mFotaError(err) ? err.message : String(err));
    }
  }

  /** Read-Composite: the paths in the body, the answer in the Accept format (default: the body's). */
  readCompositeRequest(req: IncomingRequest): { response: OutgoingResponse; paths?: LwM2mPath[]; format?: number } {
    if (!this.compositeFormat(req.contentFormat)) return { response: fail('4.15', `Read-Composite takes SenML JSON, SenML CBOR or LwM2M CBOR (${req.contentFormat ?? 'none'} given)`) };
    const format = req.accept ?? req.contentFormat!;
    if (!this.compositeFormat(format)) return { response: fail('4.06', `cannot answer in content format ${format}`) };
    let paths: LwM2mPath[];
    try {
      paths = this.options.formats.decodePaths(req.contentFormat!, req.payload);
    } catch (err) {
      return { response: fail('4.00', isLwm2mFotaError(err) ? err.message : String(err)) };
    }
    if (paths.length === 0) return { response: fail('4.00', 'Read-Composite needs at least one path') };
    return { response: this.compositeRead(paths, format), paths, format };
  }

  /** Write-Composite: every value checked first, so that a refused write changes nothing. */
  writeComposite(req: IncomingRequest): OutgoingResponse {
    if (!this.compositeFormat(req.contentFormat)) return fail('4.15', `Write-Composite takes SenML JSON, SenML CBOR or LwM2M CBOR (${req.contentFormat ?? 'none'} given)`);
    let entries: CompositeEntry[];
    try {
      entries = this.options.formats.decodeComposite(req.contentFormat!, req.payload, this.options.model);
    } catch (err) {
      return fail('4.00', isLwm2mFotaError(err) ? err.message : String(err));
    }
    const writes: Array<{ path: LwM2mPath & { level: 'resource' | 'resourceInstance' }; value: Lwm2mValue }> = [];
    for (const e of entries) {
      const p = e.path;
      if (p.level !== 'resource' && p.level !== 'resourceInstance') return fail('4.00', `Write-Composite writes resources, not ${formatPath(p)}`);
      if (e.node.kind !== 'resource' && e.node.kind !== 'resourceInstance') return fail('4.00', `${formatPath(p)}: one value expected`);
      const spec = this.instances.get(p.objectId)?.get(p.instanceId)?.resources.get(p.resourceId);
      const m = this.options.model.getResource(p.objectId, p.resourceId);
      if (!spec || !m) return fail('4.04', `${formatPath(p)} not found`);
      if (!m.operations.includes('W') || !spec.write) return fail('4.05', `${formatPath(p)} cannot be written`);
      writes.push({ path: p, value: e.node.value });
    }
    for (const w of writes) {
      const out = this.instances.get(w.path.objectId)!.get(w.path.instanceId)!.resources.get(w.path.resourceId)!.write!(w.value);
      if (out !== undefined) return fail(out.code, out.message ?? '');
      this.options.onWritten?.(pathFromIds([w.path.objectId, w.path.instanceId, w.path.resourceId]));
    }
    return { code: '2.04' };
  }
}

/** Parses a request's Uri-Path into an LwM2M path, or undefined when it is not one. */
export function lwm2mPathOf(segments: readonly string[]): LwM2mPath | undefined {
  if (segments.length > 4) return undefined;
  const ids: number[] = [];
  for (const s of segments) {
    if (!/^(0|[1-9]\d{0,4})$/.test(s)) return undefined;
    ids.push(Number(s));
  }
  try {
    return pathFromIds(ids);
  } catch {
    return undefined;
  }
}

export type { ResourceModel };

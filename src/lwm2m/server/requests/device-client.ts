/**
 * Sends operations to one device and turns the answers into values, with content-format
 * negotiation: ask for the best format the device's LwM2M version supports, accept
 * whatever valid format comes back, step down on 4.06 / 4.15, and remember per device
 * what worked.
 *
 * Old LwM2M 1.0 devices that speak only text/plain (they answer 4.06, or 4.04, to a read
 * of a whole instance) stay usable: the instance is read resource by resource — the
 * resources its Discover lists, else those the model defines — as text/plain, each value
 * decoded by the model's type, and the device is remembered as text-only.
 */
import type { CoapEndpoint, IncomingResponse, OutgoingRequest } from '../../../coap/types';
import { Lwm2mFotaError, isLwm2mFotaError } from '../../../errors';
import type { Lwm2mNode, Lwm2mResource, Lwm2mValue, ObjectInstance } from '../../core/content-formats/node';
import { ContentFormat, preferredFormats, type ContentFormatRegistry, type RequestKind } from '../../core/content-formats/registry';
import type { Link } from '../../core/content-formats/link-format';
import { formatPath, pathFromIds, type LwM2mPath } from '../../core/model/path';
import type { ValueType } from '../../core/model/types';
import {
  buildCoapRequest,
  decodeCoapResponse,
  decodeContent,
  formatCarries,
  readKind,
  validateRequest,
  valueTypeAt,
} from './build';
import { CompositeFormats } from './composite-formats';
import type { DeviceContext } from './device-context';
import {
  isSuccessCode,
  type CompositeResponse,
  type CreateRequest,
  type Lwm2mRequest,
  type Lwm2mResponse,
  type ReadRequest,
  type ReadResponse,
  type TransferOptions,
  type WriteRequest,
} from './types';

/**
 * What a device has shown it can do; kept in memory and forgotten when it re-registers.
 * Only what was negotiated is learnt — never a format an operation had to use (a Create
 * without an instance id goes as TLV whatever the device prefers) — and what a device
 * answers in is kept apart from what it takes in a request: what one operation needs does
 * not change what the others use.
 */
export interface DeviceCapabilities {
  /**
   * Content-Format the device answered in: single values, trees (Read, Observe), and
   * Read/Observe-Composite.
   */
  single?: number;
  multi?: number;
  composite?: number;
  /**
   * Content-Format the device took in a request body: single values and trees (Write,
   * Create with an instance id), composite bodies (the paths of Read/Observe-Composite, the
   * values of Write-Composite).
   */
  bodies?: { single?: number; multi?: number; composite?: number };
  /** The device answers only text/plain: trees are read and written resource by resource. */
  textOnly?: boolean;
}

export interface DeviceClientOptions {
  readonly coap: CoapEndpoint;
  readonly formats: ContentFormatRegistry;
  /** One deadline (ms) for each exchange; default: the endpoint's retransmission schedule. */
  readonly timeoutMs?: number;
  /** Called whenever a device answered (its contact keeps a queue-mode device awake). */
  readonly onContact?: (endpoint: string) => void;
}

/** Codes that say "not in that format": step down to the next candidate. */
const NOT_THAT_FORMAT = new Set(['4.06', '4.15']);
/** Most resource instances probed for one multiple resource of a text-only device. */
const MAX_PROBED_INSTANCES = 16;

/** ERR_LWM2M_NO_RESPONSE for a transport failure (timeout, reset, closed …); other errors unchanged. */
export function noResponse(err: unknown, ctx: Pick<DeviceContext, 'endpoint'>, path: string): unknown {
  if (isLwm2mFotaError(err) && err.code.startsWith('ERR_COAP_')) {
    return new Lwm2mFotaError('ERR_LWM2M_NO_RESPONSE', `${ctx.endpoint} did not answer ${path}: ${err.message} (${err.code})`, {
      cause: err,
      context: { endpoint: ctx.endpoint, path },
    });
  }
  return err;
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function aborted(ctx: Pick<DeviceContext, 'endpoint'>, what: string): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_LWM2M_ABORTED', `${what} to ${ctx.endpoint} was aborted`, { context: { endpoint: ctx.endpoint } });
}

/**
 * The CoAP request of a Write with transfer options: Block1 from `blockSize`, a fresh
 * Request-Tag per transfer (RFC 9175 §3.2: a restarted body is another transfer), the
 * abort checked between blocks (the CoAP sender ends a transfer whose progress callback
 * throws).
 */
function withTransfer(out: OutgoingRequest, t: TransferOptions, abortError: () => Error): OutgoingRequest {
  return {
    ...out,
    requestTag: true,
    ...(t.blockSize === undefined ? {} : { block1Size: t.blockSize }),
    ...(t.timeoutMs === undefined ? {} : { timeoutMs: t.timeoutMs }),
    onProgress: (sent, total, blockSize) => {
      if (isAborted(t.signal)) throw abortError();
      t.onProgress?.({ sent, total, blockSize });
      // An abort from the progress callback itself stops before the next block too (after
      // the last one the Write is done: its answer stands).
      if (sent < total && isAborted(t.signal)) throw abortError();
    },
  };
}

function withoutDuplicates(list: readonly number[]): number[] {
  return [...new Set(list)];
}

export class DeviceClient {
  private readonly caps = new Map<string, DeviceCapabilities>();
  private readonly coap: CoapEndpoint;
  private readonly formats: ContentFormatRegistry;
  private readonly timeoutMs: number | undefined;
  private readonly onContact: ((endpoint: string) => void) | undefined;

  constructor(options: DeviceClientOptions) {
    this.coap = options.coap;
    this.formats = options.formats;
    this.timeoutMs = options.timeoutMs;
    this.onContact = options.onContact;
  }

  /** What the client has learnt about the device (a copy). */
  capabilities(endpoint: string): DeviceCapabilities {
    const c = this.caps.get(endpoint);
    return c?.bodies === undefined ? { ...c } : { ...c, bodies: { ...c.bodies } };
  }

  /** Forgets what was learnt (the device re-registered: it may run other firmware now). */
  forget(endpoint: string): void {
    this.caps.delete(endpoint);
  }

  private capsOf(endpoint: string): DeviceCapabilities {
    let c = this.caps.get(endpoint);
    if (c === undefined) {
      c = {};
      this.caps.set(endpoint, c);
    }
    return c;
  }

  /** Notes the format the device took in a request body of this kind. */
  private learnBody(endpoint: string, kind: RequestKind, format: number): void {
    const c = this.capsOf(endpoint);
    (c.bodies ??= {})[kind] = format;
  }

  /**
   * Formats to ask for when reading `path`, best first: what the device answered in before,
   * then the version's preference (formats the device announced with `ct` first), limited
   * to the registered codecs that can carry the result.
   */
  readCandidates(ctx: DeviceContext, path: LwM2mPath): number[] {
    const kind = readKind(path, ctx.model);
    return this.candidates(ctx, kind, valueTypeAt(path, ctx.model), this.caps.get(ctx.endpoint)?.[kind]);
  }

  /** Formats to ask for in the answer of Read/Observe-Composite, best first (empty for LwM2M 1.0). */
  compositeCandidates(ctx: DeviceContext): number[] {
    return this.candidates(ctx, 'composite', undefined, this.caps.get(ctx.endpoint)?.composite);
  }

  /**
   * Formats for the paths in a Read/Observe-Composite request, best first: what the device
   * took in a composite body before, then SenML CBOR and SenML JSON (in the order of the
   * device's `ct`), LwM2M CBOR last — a 1.2 device may answer in LwM2M CBOR yet take the
   * paths only in SenML (empty for LwM2M 1.0).
   */
  compositeBodyCandidates(ctx: DeviceContext): number[] {
    const learnt = this.caps.get(ctx.endpoint)?.bodies?.composite;
    const list = this.candidates(ctx, 'composite', undefined, undefined);
    const senml = list.filter((f) => f !== ContentFormat.Lwm2mCbor);
    const ordered = [...senml, ...list.filter((f) => f === ContentFormat.Lwm2mCbor)];
    return learnt !== undefined && list.includes(learnt) ? withoutDuplicates([learnt, ...ordered]) : ordered;
  }

  /**
   * The formats of a Read/Observe-Composite: the body and the Accept, negotiated apart
   * (`explicit` fixes both). Undefined for LwM2M 1.0 (no composite operations).
   */
  compositeFormats(ctx: DeviceContext, explicit?: number): CompositeFormats | undefined {
    if (explicit !== undefined) return new CompositeFormats([explicit], [explicit]);
    const accepts = this.compositeCandidates(ctx);
    const bodies = this.compositeBodyCandidates(ctx);
    return accepts.length === 0 || bodies.length === 0 ? undefined : new CompositeFormats(bodies, accepts);
  }

  /** Notes what a successful Read/Observe-Composite showed: the body it took, the format it answered in. */
  learnComposite(ctx: DeviceContext, body: number, answer: number | undefined): void {
    this.learnBody(ctx.endpoint, 'composite', body);
    if (answer !== undefined && formatCarries(answer, 'composite')) this.capsOf(ctx.endpoint).composite = answer;
  }

  private candidates(ctx: DeviceContext, kind: RequestKind, type: ValueType | undefined, learnt: number | undefined): number[] {
    // LwM2M 1.0 has no composite operations, whatever a device says it speaks.
    if (kind === 'composite' && ctx.lwm2mVersion === '1.0') return [];
    const preferred = preferredFormats(ctx.lwm2mVersion, kind);
    const announced = ctx.contentFormats;
    // What the device announced (`ct`) goes first, in the version's order, then announced
    // formats the version's list lacks (a 1.1 device that speaks only LwM2M JSON, 11543),
    // then the rest as fallbacks.
    let list =
      announced.length === 0
        ? preferred
        : [...preferred.filter((f) => announced.includes(f)), ...announced.filter((f) => !preferred.includes(f)), ...preferred.filter((f) => !announced.includes(f))];
    // TS Core §7.3: an Opaque value travels as application/octet-stream; nobody announces 42.
    if (kind === 'single' && type === 'opaque') list = [ContentFormat.OctetStream, ...list];
    if (learnt !== undefined) list = [learnt, ...list];
    return withoutDuplicates(list).filter((f) => this.formats.has(f) && formatCarries(f, kind, type));
  }

  /**
   * One exchange with the device. Throws ERR_LWM2M_NO_RESPONSE when no answer came,
   * ERR_LWM2M_ABORTED when `transfer.signal` ended it.
   */
  async exchange(ctx: DeviceContext, out: OutgoingRequest, what: string, transfer?: TransferOptions): Promise<IncomingResponse> {
    const signal = transfer?.signal;
    if (signal?.aborted === true) throw aborted(ctx, what);
    const req = transfer === undefined ? out : withTransfer(out, transfer, () => aborted(ctx, what));
    let res: IncomingResponse;
    try {
      res = await this.coap.request(ctx.peer, this.timeoutMs === undefined || req.timeoutMs !== undefined ? req : { ...req, timeoutMs: this.timeoutMs });
    } catch (err) {
      // Read again: the transfer may have been aborted while it ran.
      if (isAborted(signal)) throw aborted(ctx, what);
      throw noResponse(err, ctx, what);
    }
    this.onContact?.(ctx.endpoint);
    return res;
  }

  /**
   * Performs one operation (not Observe: see ObservationService). Response codes are
   * values; throws ERR_LWM2M_NO_RESPONSE when the device did not answer,
   * ERR_LWM2M_CONTENT_FORMAT when a success answer does not decode, and ERR_LWM2M_PATH /
   * ERR_LWM2M_VALUE / ERR_LWM2M_ATTRIBUTES / ERR_LWM2M_UNSUPPORTED_FORMAT before sending
   * anything when the request itself is wrong. `transfer` applies to a Write (block size,
   * progress, abort: ERR_LWM2M_ABORTED).
   */
  async perform(ctx: DeviceContext, req: Lwm2mRequest, transfer?: TransferOptions): Promise<Lwm2mResponse> {
    validateRequest(req, ctx.model);
    switch (req.operation) {
      case 'read':
        return this.read(ctx, req);
      case 'write':
        return this.write(ctx, req, transfer);
      case 'create':
        return this.create(ctx, req);
      case 'readComposite':
      case 'writeComposite':
        return this.composite(ctx, req);
      case 'observe':
      case 'observeComposite':
        throw new Lwm2mFotaError('ERR_LWM2M_VALUE', `${req.operation} goes through the observation service`);
      default:
        return this.once(ctx, req, undefined);
    }
  }

  private async once(ctx: DeviceContext, req: Lwm2mRequest, format: number | undefined, transfer?: TransferOptions): Promise<Lwm2mResponse> {
    const out = buildCoapRequest(req, ctx, this.formats, format);
    const res = await this.exchange(ctx, out, describe(req), transfer);
    return decodeCoapResponse(req, res, ctx, this.formats, format);
  }

  // ---------------------------------------------------------------------------------------
  // Read

  private async read(ctx: DeviceContext, req: ReadRequest): Promise<ReadResponse> {
    if (req.format !== undefined) return (await this.once(ctx, req, req.format)) as ReadResponse;
    const kind = readKind(req.path, ctx.model);
    const caps = this.capsOf(ctx.endpoint);
    if (kind === 'multi' && caps.textOnly === true) {
      // Known text-only: nothing readable there means nothing is there.
      return (await this.readByResource(ctx, req.path)) ?? { operation: 'read', path: req.path, code: '4.04', success: false };
    }
    let last: { res: IncomingResponse; format: number } | undefined;
    for (const f of this.readCandidates(ctx, req.path)) {
      const res = await this.exchange(ctx, buildCoapRequest(req, ctx, this.formats, f), describe(req));
      last = { res, format: f };
      if (NOT_THAT_FORMAT.has(res.code)) continue;
      if (res.code === '2.05') {
        const decoded = decodeCoapResponse(req, res, ctx, this.formats, f) as ReadResponse;
        if (decoded.format !== undefined && formatCarries(decoded.format, kind)) caps[kind] = decoded.format;
        return decoded;
      }
      break;
    }
    if (last === undefined) {
      throw new Lwm2mFotaError('ERR_LWM2M_UNSUPPORTED_FORMAT', `no registered content format can carry ${formatPath(req.path)}`);
    }
    // TS Core 1.0 devices that know only text/plain refuse a tree with 4.06, and some with
    // 4.04: read what the instance holds one resource at a time.
    const textOnlyHint = last.res.code === '4.06' || (last.res.code === '4.04' && ctx.lwm2mVersion === '1.0');
    if (kind === 'multi' && textOnlyHint) {
      const fb = await this.readByResource(ctx, req.path);
      if (fb !== undefined) {
        caps.textOnly = true;
        return fb;
      }
    }
    return decodeCoapResponse(req, last.res, ctx, this.formats, last.format) as ReadResponse;
  }

  /** GET with Accept text/plain; the decoded value, or undefined for any non-2.05 answer. */
  private async readText(ctx: DeviceContext, path: LwM2mPath): Promise<Lwm2mNode | undefined> {
    const req: ReadRequest = { operation: 'read', path };
    const res = await this.exchange(ctx, buildCoapRequest(req, ctx, this.formats, ContentFormat.TextPlain), describe(req));
    if (res.code !== '2.05') return undefined;
    return decodeContent(res, path, ctx.model, this.formats, ContentFormat.TextPlain).content;
  }

  private async discover(ctx: DeviceContext, path: LwM2mPath): Promise<{ code: string; links: Link[] }> {
    const res = await this.once(ctx, { operation: 'discover', path }, undefined);
    return { code: res.code, links: res.operation === 'discover' ? [...(res.links ?? [])] : [] };
  }

  /**
   * Reads an object, instance or multiple resource value by value as text/plain.
   * Undefined when nothing could be read (the caller then reports the device's answer).
   */
  private async readByResource(ctx: DeviceContext, path: LwM2mPath): Promise<ReadResponse | undefined> {
    const done = (content: Lwm2mNode): ReadResponse => ({
      operation: 'read',
      path,
      code: '2.05',
      success: true,
      format: ContentFormat.TextPlain,
      content,
      fallback: 'perResource',
    });
    switch (path.level) {
      case 'object': {
        const d = await this.discover(ctx, path);
        if (d.code !== '2.05') return undefined;
        const ids = [...new Set(d.links.map((l) => linkIds(l.uri, ctx.rootPath)).filter((x) => x.length >= 2).map((x) => x[1] as number))];
        const instances: ObjectInstance[] = [];
        for (const i of ids.sort((a, b) => a - b)) {
          const inst = await this.readInstanceByResource(ctx, path.objectId, i, d.links);
          if (inst !== undefined) instances.push(inst);
        }
        return done({ kind: 'object', id: path.objectId, instances });
      }
      case 'objectInstance': {
        const inst = await this.readInstanceByResource(ctx, path.objectId, path.instanceId, undefined);
        return inst === undefined ? undefined : done(inst);
      }
      case 'resource': {
        const r = await this.readMultipleByInstance(ctx, path.objectId, path.instanceId, path.resourceId, undefined);
        return r === undefined ? undefined : done(r);
      }
      default:
        return undefined;
    }
  }

  private async readInstanceByResource(ctx: DeviceContext, o: number, i: number, known: readonly Link[] | undefined): Promise<ObjectInstance | undefined> {
    let links = known;
    if (links === undefined) {
      const d = await this.discover(ctx, pathFromIds([o, i]));
      // A 4.04 to Discover settles it: there is no such instance.
      if (d.code === '4.04') return undefined;
      if (d.code === '2.05') links = d.links;
    }
    const listed = new Map<number, number | undefined>();
    for (const l of links ?? []) {
      const ids = linkIds(l.uri, ctx.rootPath);
      if (ids.length === 3 && ids[0] === o && ids[1] === i) {
        const dim = l.attributes.find((a) => a.name === 'dim')?.value;
        listed.set(ids[2] as number, dim !== undefined && /^\d+$/.test(dim) ? Number(dim) : undefined);
      }
    }
    const object = ctx.model.getObject(o);
    const ids =
      listed.size > 0
        ? [...listed.keys()]
        : (object?.resources ?? []).filter((r) => r.operations === 'R' || r.operations === 'RW').map((r) => r.id);
    const resources: Lwm2mResource[] = [];
    for (const r of ids.sort((a, b) => a - b)) {
      const m = ctx.model.getResource(o, r);
      if (m !== undefined && m.operations !== 'R' && m.operations !== 'RW') continue;
      if (m?.multiple === true) {
        const mr = await this.readMultipleByInstance(ctx, o, i, r, listed.get(r));
        if (mr !== undefined) resources.push(mr);
        continue;
      }
      const node = await this.readText(ctx, pathFromIds([o, i, r]));
      if (node !== undefined && (node.kind === 'resource' || node.kind === 'multipleResource')) resources.push(node);
    }
    if (resources.length === 0 && listed.size === 0) return undefined;
    return { kind: 'objectInstance', id: i, resources };
  }

  /** A multiple resource read instance by instance (ids 0, 1, … until `dim` found or a gap). */
  private async readMultipleByInstance(ctx: DeviceContext, o: number, i: number, r: number, dim: number | undefined): Promise<Lwm2mResource | undefined> {
    const m = ctx.model.getResource(o, r);
    if (m === undefined || m.type === 'none') return undefined;
    const values = new Map<number, Lwm2mValue>();
    const limit = dim === undefined ? MAX_PROBED_INSTANCES : Math.min(MAX_PROBED_INSTANCES, dim + 8);
    for (let k = 0; k < limit; k++) {
      if (dim !== undefined && values.size >= dim) break;
      const node = await this.readText(ctx, pathFromIds([o, i, r, k]));
      if (node === undefined || node.kind !== 'resourceInstance') {
        if (dim === undefined) break;
        continue;
      }
      values.set(k, node.value);
    }
    if (values.size === 0 && dim === undefined) return undefined;
    return { kind: 'multipleResource', id: r, type: m.type, instances: values } as Lwm2mResource;
  }

  // ---------------------------------------------------------------------------------------
  // Write, Create, composite

  private writeKind(node: Lwm2mNode): RequestKind {
    return node.kind === 'resource' || node.kind === 'resourceInstance' ? 'single' : 'multi';
  }

  private async write(ctx: DeviceContext, req: WriteRequest, transfer: TransferOptions | undefined): Promise<Lwm2mResponse> {
    if (req.format !== undefined) return this.once(ctx, req, req.format, transfer);
    const kind = this.writeKind(req.node);
    const caps = this.capsOf(ctx.endpoint);
    if (kind === 'multi' && caps.textOnly === true && req.node.kind === 'objectInstance') {
      const fb = await this.writeByResource(ctx, req);
      if (fb !== undefined) return fb;
    }
    const type = req.node.kind === 'resource' || req.node.kind === 'resourceInstance' ? req.node.type : undefined;
    let last: Lwm2mResponse | undefined;
    for (const f of this.candidates(ctx, kind, type, caps.bodies?.[kind])) {
      last = await this.once(ctx, req, f, transfer);
      if (!NOT_THAT_FORMAT.has(last.code)) {
        if (last.success) this.learnBody(ctx.endpoint, kind, f);
        return last;
      }
    }
    if (last === undefined) throw new Lwm2mFotaError('ERR_LWM2M_UNSUPPORTED_FORMAT', `no registered content format can carry a write to ${formatPath(req.path)}`);
    if (req.node.kind === 'objectInstance') {
      const fb = await this.writeByResource(ctx, req);
      if (fb !== undefined) {
        caps.textOnly = true;
        return fb;
      }
    }
    return last;
  }

  /**
   * A write of an instance as one text/plain PUT per single resource (a text-only device).
   * Undefined when the instance holds multiple resources (text cannot carry them) or the
   * device refuses text too.
   */
  private async writeByResource(ctx: DeviceContext, req: WriteRequest): Promise<Lwm2mResponse | undefined> {
    const node = req.node;
    if (node.kind !== 'objectInstance' || req.path.level !== 'objectInstance') return undefined;
    if (node.resources.some((r) => r.kind !== 'resource')) return undefined;
    const { objectId, instanceId } = req.path;
    for (const r of node.resources) {
      const one: WriteRequest = { operation: 'write', mode: 'replace', path: pathFromIds([objectId, instanceId, r.id]), node: r, format: ContentFormat.TextPlain };
      const res = await this.once(ctx, one, ContentFormat.TextPlain);
      if (!res.success) {
        if (NOT_THAT_FORMAT.has(res.code)) return undefined;
        return { operation: 'write', path: one.path, code: res.code, success: false, ...(res.diagnostic === undefined ? {} : { diagnostic: res.diagnostic }) };
      }
    }
    return { operation: 'write', path: req.path, code: '2.04', success: true, format: ContentFormat.TextPlain, fallback: 'perResource' };
  }

  private async create(ctx: DeviceContext, req: CreateRequest): Promise<Lwm2mResponse> {
    if (req.format !== undefined) return this.once(ctx, req, req.format);
    // Without an instance id only TLV can carry the resources alone: a format this Create
    // must use, not one the device chose, so it teaches nothing about the device.
    if (req.instance.id === undefined) return this.once(ctx, req, ContentFormat.Tlv);
    let last: Lwm2mResponse | undefined;
    for (const f of this.candidates(ctx, 'multi', undefined, this.caps.get(ctx.endpoint)?.bodies?.multi)) {
      last = await this.once(ctx, req, f);
      if (!NOT_THAT_FORMAT.has(last.code)) {
        if (last.success) this.learnBody(ctx.endpoint, 'multi', f);
        return last;
      }
    }
    if (last === undefined) throw new Lwm2mFotaError('ERR_LWM2M_UNSUPPORTED_FORMAT', 'no registered content format can carry a create');
    return last;
  }

  private async composite(ctx: DeviceContext, req: Extract<Lwm2mRequest, { operation: 'readComposite' | 'writeComposite' }>): Promise<Lwm2mResponse> {
    if (req.format !== undefined) return this.once(ctx, req, req.format);
    const unsupported = (): Lwm2mFotaError =>
      new Lwm2mFotaError('ERR_LWM2M_UNSUPPORTED_FORMAT', `${req.operation} needs LwM2M 1.1 or later; ${ctx.endpoint} registered with ${ctx.lwm2mVersion}`, {
        context: { endpoint: ctx.endpoint },
      });
    if (req.operation === 'readComposite') {
      const formats = this.compositeFormats(ctx);
      if (formats === undefined) throw unsupported();
      for (;;) {
        const out = buildCoapRequest(req, ctx, this.formats, formats.accept, formats.body);
        const res = await this.exchange(ctx, out, describe(req));
        if (formats.step(res.code)) continue;
        const answer = decodeCoapResponse(req, res, ctx, this.formats, formats.accept) as CompositeResponse;
        if (answer.success) this.learnComposite(ctx, formats.body, answer.format);
        return answer;
      }
    }
    // Write-Composite: the values are the body, and what it took is a body format.
    const list = this.candidates(ctx, 'composite', undefined, this.caps.get(ctx.endpoint)?.bodies?.composite);
    if (list.length === 0) throw unsupported();
    let last: Lwm2mResponse | undefined;
    for (const f of list) {
      last = await this.once(ctx, req, f);
      if (!NOT_THAT_FORMAT.has(last.code)) {
        if (last.success) this.learnBody(ctx.endpoint, 'composite', f);
        return last;
      }
    }
    return last as Lwm2mResponse;
  }
}

/** The LwM2M ids of a link target under the root path ("</3/0/7>" → [3, 0, 7]); [] when it is not one. */
export function linkIds(uri: string, rootPath: string): number[] {
  const prefix = rootPath === '/' ? '' : rootPath.replace(/\/+$/, '');
  if (prefix !== '' && !uri.startsWith(prefix + '/')) return [];
  const rest = uri.slice(prefix.length).split('/').slice(1);
  if (rest.length === 0 || rest.length > 4 || !rest.every((s) => /^(0|[1-9]\d{0,4})$/.test(s))) return [];
  return rest.map(Number);
}

/** "read /3/0", "readComposite /3/0/0,/1/0/1" — for messages. */
export function describe(req: Lwm2mRequest): string {
  if ('paths' in req) return `${req.operation} ${req.paths.map(formatPath).join(',')}`;
  if ('entries' in req) return `${req.operation} ${req.entries.map((e) => formatPath(e.path)).join(',')}`;
  return `${req.operation} ${formatPath(req.path)}`;
}

export { isSuccessCode };

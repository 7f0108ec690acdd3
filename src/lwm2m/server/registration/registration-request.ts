import { Lwm2mFotaError } from '../../../errors';
import { type Link, linkAttribute, parseLinkFormat } from '../../core/content-formats/link-format';

/**
 * The rules of the LwM2M registration interface (OMA-TS-LightweightM2M-Core 1.1/1.2 §6.2,
 * Transport §6.2.1), as pure functions: query parameters and the link-format payload in,
 * typed values out, or a `RegistrationRejection` carrying the CoAP code to answer.
 */

export const SUPPORTED_LWM2M_VERSIONS = ['1.0', '1.1', '1.2'] as const;
export type Lwm2mVersion = (typeof SUPPORTED_LWM2M_VERSIONS)[number];

/** Default lifetime when `lt` is absent: "Default: 86400" (Core §6.2.1, Registration). */
export const DEFAULT_LIFETIME_S = 86400;
export const MAX_ENDPOINT_NAME_LENGTH = 255;
/** Lifetime is an unsigned 32-bit integer of seconds. */
export const MAX_LIFETIME_S = 0xffffffff;

/** A refused registration request: the CoAP code to answer and a diagnostic for the payload. */
export class RegistrationRejection extends Error {
  override readonly name = 'RegistrationRejection';
  constructor(
    readonly coapCode: '4.00' | '4.03' | '4.04' | '4.05' | '4.12' | '4.13' | '4.15',
    message: string,
  ) {
    super(message);
  }
}

export interface ObjectLink {
  readonly objectId: number;
  readonly instanceId?: number;
  /** `ver` attribute of an object link, e.g. '1.1'. */
  readonly version?: string;
}

export interface ParsedLinks {
  /** Alternate root path ("/" unless the device announced one with rt="oma.lwm2m"). */
  readonly rootPath: string;
  /** Object and object-instance links relative to the root path, as written: ['/1/0', '/5']. */
  readonly objectLinks: string[];
  readonly objects: ObjectLink[];
  /** Content formats from the `ct` attribute of the root link (LwM2M 1.1+), if any. */
  readonly contentFormats: number[];
}

export interface RegisterParams {
  readonly endpoint: string;
  readonly lifetime: number;
  readonly lwm2mVersion: Lwm2mVersion;
  readonly binding: string;
  readonly queueMode: boolean;
  readonly smsNumber?: string;
}

export interface UpdateParams {
  readonly lifetime?: number;
  readonly binding?: string;
  readonly queueMode?: boolean;
  readonly smsNumber?: string;
}

/** Query parameters by name (`true` for a parameter without a value, like `Q`). */
export type QueryParams = Pick<ReadonlyMap<string, string | true>, 'get' | 'has'>;

/**
 * The few parameters a registration carries, found by a scan over the names rather than a
 * hash lookup (measured: the Map was a visible part of a registration's cost).
 */
class SmallQuery implements QueryParams {
  private readonly keys: string[] = [];
  private readonly values: (string | true)[] = [];

  get(key: string): string | true | undefined {
    const i = this.keys.indexOf(key);
    return i < 0 ? undefined : this.values[i];
  }

  has(key: string): boolean {
    return this.keys.includes(key);
  }

  set(key: string, value: string | true): void {
    this.keys.push(key);
    this.values.push(value);
  }
}

/** Splits Uri-Query options (`ep=x`, `Q`) by name; an empty or repeated name is a 4.00. */
export function parseQuery(query: readonly string[]): QueryParams {
  const out = query.length <= 8 ? new SmallQuery() : new Map<string, string | true>();
  for (const q of query) {
    const eq = q.indexOf('=');
    const key = eq < 0 ? q : q.slice(0, eq);
    if (key.length === 0) throw new RegistrationRejection('4.00', `empty query parameter name in "${q}"`);
    if (out.has(key)) throw new RegistrationRejection('4.00', `query parameter "${key}" given twice`);
    out.set(key, eq < 0 ? true : q.slice(eq + 1));
  }
  return out;
}

function stringParam(q: QueryParams, key: string): string | undefined {
  const v = q.get(key);
  if (v === undefined) return undefined;
  if (v === true) throw new RegistrationRejection('4.00', `query parameter "${key}" needs a value`);
  return v;
}

function parseLifetime(value: string): number {
  if (!/^\d{1,10}$/.test(value)) throw new RegistrationRejection('4.00', `lifetime "lt" must be a whole number of seconds, got "${value}"`);
  const lt = Number(value);
  if (lt < 1 || lt > MAX_LIFETIME_S) throw new RegistrationRejection('4.00', `lifetime "lt" must be between 1 and ${MAX_LIFETIME_S}, got ${lt}`);
  return lt;
}

/**
 * Binding modes: LwM2M 1.0 allows U, UQ, S, SQ, US, UQS (Core 1.0 §5.3.1.1); 1.1 and 1.2
 * combine U, T, S, N (1.2 adds M and H) and carry queue mode in the separate `Q` parameter,
 * though 1.1 clients in the field still send `UQ`, which we accept as queue mode.
 */
function parseBinding(b: string, version: Lwm2mVersion): { binding: string; queueMode: boolean } {
  if (version === '1.0') {
    if (!['U', 'UQ', 'S', 'SQ', 'US', 'UQS'].includes(b)) throw new RegistrationRejection('4.00', `binding "b" must be one of U, UQ, S, SQ, US, UQS for LwM2M 1.0, got "${b}"`);
    return { binding: b, queueMode: b.includes('Q') };
  }
  const allowed = version === '1.1' ? 'UTSNQ' : 'UTSNMHQ';
  if (b.length === 0 || [...b].some((c, i) => !allowed.includes(c) || b.indexOf(c) !== i) || b === 'Q') {
    throw new RegistrationRejection('4.00', `binding "b" must combine ${[...allowed].filter((c) => c !== 'Q').join(', ')} without repeats, got "${b}"`);
  }
  return { binding: b, queueMode: b.includes('Q') };
}

/** Validates the query of `POST /rd` (Register). */
export function parseRegisterQuery(query: readonly string[]): RegisterParams {
  const q = parseQuery(query);
  const endpoint = stringParam(q, 'ep');
  if (endpoint === undefined || endpoint.length === 0) throw new RegistrationRejection('4.00', 'endpoint client name "ep" is missing');
  if (endpoint.length > MAX_ENDPOINT_NAME_LENGTH) throw new RegistrationRejection('4.00', `endpoint client name "ep" is longer than ${MAX_ENDPOINT_NAME_LENGTH} characters`);
  // Names travel in URLs, logs and SQL: control characters have no place in them.
  if (/[\u0000-\u001f\u007f]/.test(endpoint)) throw new RegistrationRejection('4.00', 'endpoint client name "ep" contains control characters');
  const lwm2m = stringParam(q, 'lwm2m') ?? '1.0';
  if (!(SUPPORTED_LWM2M_VERSIONS as readonly string[]).includes(lwm2m)) {
    // Core 1.1 §6.2.1: a server that does not support the client's version answers 4.12 Precondition Failed.
    throw new RegistrationRejection('4.12', `LwM2M version "${lwm2m}" is not supported (supported: ${SUPPORTED_LWM2M_VERSIONS.join(', ')})`);
  }
  const lwm2mVersion = lwm2m as Lwm2mVersion;
  const lt = stringParam(q, 'lt');
  const lifetime = lt === undefined ? DEFAULT_LIFETIME_S : parseLifetime(lt);
  const { binding, queueMode } = parseBinding(stringParam(q, 'b') ?? 'U', lwm2mVersion);
  const sms = stringParam(q, 'sms');
  return {
    endpoint,
    lifetime,
    lwm2mVersion,
    binding,
    queueMode: queueMode || q.get('Q') === true,
    ...(sms === undefined ? {} : { smsNumber: sms }),
  };
}

/** Validates the query of `POST /rd/<id>` (Update): every parameter optional. */
export function parseUpdateQuery(query: readonly string[], lwm2mVersion: Lwm2mVersion): UpdateParams {
  const q = parseQuery(query);
  for (const forbidden of ['ep', 'lwm2m']) {
    if (q.has(forbidden)) throw new RegistrationRejection('4.00', `"${forbidden}" cannot change in an update`);
  }
  const lt = stringParam(q, 'lt');
  const b = stringParam(q, 'b');
  const sms = stringParam(q, 'sms');
  const bound = b === undefined ? undefined : parseBinding(b, lwm2mVersion);
  const queueMode = bound?.queueMode || q.get('Q') === true ? true : bound === undefined ? undefined : false;
  return {
    ...(lt === undefined ? {} : { lifetime: parseLifetime(lt) }),
    ...(bound === undefined ? {} : { binding: bound.binding }),
    ...(queueMode === undefined ? {} : { queueMode }),
    ...(sms === undefined ? {} : { smsNumber: sms }),
  };
}

const ID = /^(0|[1-9]\d{0,4})$/;
/** Most object links a registration may carry (a device has at most a few hundred). */
const MAX_LINKS = 4096;

function parseId(s: string, max: number): number | undefined {
  if (!ID.test(s)) return undefined;
  const n = Number(s);
  return n <= max ? n : undefined;
}

/**
 * Interprets the registration payload: the root link (rt="oma.lwm2m") gives the alternate
 * path and supported content formats; every other link must be an object (`</5>`) or
 * object instance (`</5/0>`) under that root. Throws ERR_LWM2M_LINK_FORMAT.
 */
export function parseRegistrationLinks(text: string): ParsedLinks {
  const links = parseLinkFormat(text);
  if (links.length > MAX_LINKS) throw new Lwm2mFotaError('ERR_LWM2M_LINK_FORMAT', `more than ${MAX_LINKS} links`);
  let rootPath = '/';
  let contentFormats: number[] = [];
  const root = links.find((l) => linkAttribute(l, 'rt') === 'oma.lwm2m');
  if (root) {
    rootPath = root.uri.length > 1 ? root.uri.replace(/\/+$/, '') : '/';
    if (!rootPath.startsWith('/')) rootPath = '/' + rootPath;
    contentFormats = parseContentFormats(root);
  } else {
    // TS Transport 1.1 §6.2.1 also lets the root link stand alone: `</>;ct=11543`.
    const plain = links.find((l) => l.uri === '/');
    if (plain !== undefined) contentFormats = parseContentFormats(plain);
  }
  const prefix = rootPath === '/' ? '' : rootPath;
  const objectLinks: string[] = [];
  const objects: ObjectLink[] = [];
  for (const link of links) {
    if (link === root) continue;
    if (link.uri === '/' || link.uri === prefix || link.uri === `${prefix}/`) continue;
    if (prefix && !link.uri.startsWith(prefix + '/')) {
      throw new Lwm2mFotaError('ERR_LWM2M_LINK_FORMAT', `link <${link.uri}> is outside the root path ${rootPath}`);
    }
    const rel = link.uri.slice(prefix.length);
    const segs = rel.split('/');
    // segs[0] is '' (leading slash). An object link is /oid, an instance link /oid/iid.
    const oid = segs.length >= 2 && segs.length <= 3 && segs[0] === '' ? parseId(segs[1]!, 65535) : undefined;
    const iid = segs.length === 3 ? parseId(segs[2]!, 65534) : undefined;
    if (oid === undefined || (segs.length === 3 && iid === undefined)) {
      throw new Lwm2mFotaError('ERR_LWM2M_LINK_FORMAT', `link <${link.uri}> is not an LwM2M object or object instance`);
    }
    const ver = linkAttribute(link, 'ver');
    objectLinks.push(rel);
    objects.push({
      objectId: oid,
      ...(iid === undefined ? {} : { instanceId: iid }),
      ...(typeof ver === 'string' ? { version: ver } : {}),
    });
  }
  return { rootPath, objectLinks, objects, contentFormats };
}

function parseContentFormats(root: Link): number[] {
  const ct = linkAttribute(root, 'ct');
  if (typeof ct !== 'string') return [];
  const out: number[] = [];
  for (const part of ct.split(/\s+/)) {
    if (!/^\d{1,5}$/.test(part) || Number(part) > 65535) {
      throw new Lwm2mFotaError('ERR_LWM2M_LINK_FORMAT', `ct="${ct}" is not a list of content-format numbers`);
    }
    out.push(Number(part));
  }
  return out;
}

/** The object version a device announced for `objectId` (`</5>;ver=1.1`), '1.0' when absent. */
export function objectVersionOf(links: ParsedLinks, objectId: number): string {
  return links.objects.find((o) => o.objectId === objectId && o.version !== undefined)?.version ?? '1.0';
}

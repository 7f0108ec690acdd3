/**
 * Notification attributes for Write-Attributes (TS Core 1.1 §5.1.2, 1.2 §5.1.1):
 *
 * | name  | meaning                        | value            | level               |
 * |-------|--------------------------------|------------------|---------------------|
 * | pmin  | minimum period                 | integer seconds  | object … resource   |
 * | pmax  | maximum period                 | integer seconds  | object … resource   |
 * | gt    | greater than                   | float            | numeric resource    |
 * | lt    | less than                      | float            | numeric resource    |
 * | st    | step                           | float ≥ 0        | numeric resource    |
 * | epmin | minimum evaluation period      | integer seconds  | object … resource   |
 * | epmax | maximum evaluation period      | integer seconds  | object … resource   |
 *
 * A value of `null` removes the attribute: the query carries the bare name ("?pmin"),
 * which TS Core §5.4.4 defines as "remove the attribute".
 */
import { Lwm2mFotaError } from '../../../errors';
import { formatPath, type LwM2mPath } from '../../core/model/path';
import type { Lwm2mModel } from '../../core/model/types';

export const ATTRIBUTE_NAMES = ['pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax'] as const;
export type AttributeName = (typeof ATTRIBUTE_NAMES)[number];

/** A number sets the attribute, `null` removes it, absent leaves it alone. */
export type NotificationAttributes = { readonly [K in AttributeName]?: number | null };

const PERIODS: ReadonlySet<AttributeName> = new Set(['pmin', 'pmax', 'epmin', 'epmax']);
const THRESHOLDS: ReadonlySet<AttributeName> = new Set(['gt', 'lt', 'st']);

function fail(message: string, path?: string): never {
  throw new Lwm2mFotaError('ERR_LWM2M_ATTRIBUTES', message, path === undefined ? {} : { context: { path } });
}

/** A number as query text without exponent notation where that is exact ("0.5", "21", "-3.25"). */
function formatNumber(n: number): string {
  const s = String(n);
  if (!/e/i.test(s)) return s;
  // Very small or large magnitudes: toFixed up to 20 digits keeps it plain decimal.
  const fixed = Math.abs(n) < 1 ? n.toFixed(20).replace(/0+$/, '').replace(/\.$/, '') : BigInt(Math.round(n)).toString();
  return Number(fixed) === n ? fixed : s;
}

/**
 * Checks the attributes, alone and against the target: periods are non-negative integers,
 * thresholds finite numbers, st ≥ 0; pmin ≤ pmax and epmin ≤ epmax when both are set;
 * "lt" < "gt" and "lt" + 2·"st" < "gt" (TS Core 1.1 §5.1.2: "the following conditions
 * MUST be satisfied"); gt, lt and st only on a resource (or resource instance) of a
 * numeric type.
 *
 * @throws Lwm2mFotaError ERR_LWM2M_ATTRIBUTES naming what is wrong.
 */
export function validateAttributes(attributes: NotificationAttributes, path: LwM2mPath, model?: Lwm2mModel): void {
  const where = formatPath(path);
  if (attributes === null || typeof attributes !== 'object') fail('attributes must be an object');
  const names = Object.keys(attributes);
  if (names.length === 0) fail('no attribute given (pmin, pmax, gt, lt, st, epmin, epmax)');
  for (const name of names) {
    if (!(ATTRIBUTE_NAMES as readonly string[]).includes(name)) {
      fail(`unknown attribute "${name}" (known: ${ATTRIBUTE_NAMES.join(', ')})`);
    }
    const v = attributes[name as AttributeName];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${name} must be a finite number, got ${JSON.stringify(v)}`);
    if (PERIODS.has(name as AttributeName) && (!Number.isSafeInteger(v) || v < 0)) {
      fail(`${name} is a period in seconds: a non-negative integer, got ${v}`);
    }
    if (name === 'st' && v < 0) fail(`st must not be negative, got ${v}`);
  }
  const { pmin, pmax, epmin, epmax, gt, lt, st } = attributes;
  if (typeof pmin === 'number' && typeof pmax === 'number' && pmin > pmax) fail(`pmin (${pmin}) must not exceed pmax (${pmax})`);
  if (typeof epmin === 'number' && typeof epmax === 'number' && epmin > epmax) fail(`epmin (${epmin}) must not exceed epmax (${epmax})`);
  if (typeof lt === 'number' && typeof gt === 'number') {
    if (!(lt < gt)) fail(`lt (${lt}) must be less than gt (${gt})`);
    if (typeof st === 'number' && !(lt + 2 * st < gt)) fail(`lt + 2·st (${lt + 2 * st}) must be less than gt (${gt})`);
  }
  const thresholds = names.filter((n) => THRESHOLDS.has(n as AttributeName));
  if (thresholds.length > 0) {
    if (path.level !== 'resource' && path.level !== 'resourceInstance') {
      fail(`${thresholds.join(', ')} apply to a resource, not to ${where}`, where);
    }
    const m = model?.getResource(path.objectId, path.resourceId);
    if (m !== undefined && m.type !== 'integer' && m.type !== 'unsigned' && m.type !== 'float') {
      fail(`${thresholds.join(', ')} apply to numeric resources; ${where} (${m.name}) is ${m.type}`, where);
    }
  }
}

/**
 * The Uri-Query options of a Write-Attributes request, in a fixed order
 * (`pmin=10`, `pmax=60`, `gt=20.5`, a bare `lt` to remove one).
 *
 * @example attributesToQuery({ pmin: 10, gt: 20.5, st: null }) // ['pmin=10', 'gt=20.5', 'st']
 */
export function attributesToQuery(attributes: NotificationAttributes): string[] {
  const out: string[] = [];
  for (const name of ATTRIBUTE_NAMES) {
    if (!(name in attributes)) continue;
    const v = attributes[name];
    if (v === undefined) continue;
    out.push(v === null ? name : `${name}=${formatNumber(v)}`);
  }
  return out;
}

/**
 * Reads attributes from `name=value` words (the CLI) or query options: `pmin=10`,
 * `gt=-2.5`; `pmin` or `pmin=` removes pmin.
 *
 * @throws Lwm2mFotaError ERR_LWM2M_ATTRIBUTES for an unknown name, a repeated one, or a
 *   value that is not a number.
 */
export function parseAttributeAssignments(words: readonly string[]): NotificationAttributes {
  const out: Record<string, number | null> = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    const name = (eq < 0 ? w : w.slice(0, eq)).trim();
    const text = eq < 0 ? '' : w.slice(eq + 1).trim();
    if (!(ATTRIBUTE_NAMES as readonly string[]).includes(name)) fail(`unknown attribute "${name}" (known: ${ATTRIBUTE_NAMES.join(', ')})`);
    if (name in out) fail(`attribute "${name}" given twice`);
    if (text === '') {
      out[name] = null;
      continue;
    }
    if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) fail(`${name}: "${text}" is not a number`);
    out[name] = Number(text);
  }
  return out as NotificationAttributes;
}

/**
 * Attributes from a JSON object (the REST API): numbers set, null removes.
 *
 * @throws Lwm2mFotaError ERR_LWM2M_ATTRIBUTES for anything else.
 */
export function attributesFromJson(json: unknown): NotificationAttributes {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail('attributes must be a JSON object such as {"pmin": 10, "pmax": 60}');
  const out: Record<string, number | null> = {};
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (!(ATTRIBUTE_NAMES as readonly string[]).includes(name)) fail(`unknown attribute "${name}" (known: ${ATTRIBUTE_NAMES.join(', ')})`);
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) fail(`${name} must be a number or null, got ${JSON.stringify(v)}`);
    out[name] = v as number | null;
  }
  return out as NotificationAttributes;
}

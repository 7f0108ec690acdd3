/**
 * OMA DDF XML (the LWM2M.xsd object definition format) → ObjectModel.
 *
 * The parser is strict about what it must understand (ObjectID, resource IDs, types,
 * multiplicity) and lenient about prose; every rejection is an ERR_LWM2M_MODEL that names
 * the source and what is wrong, so the loader can report it and skip the file.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { Lwm2mFotaError } from '../../../errors';
import type { NumericRange, ObjectModel, Operations, ResourceModel, ResourceType } from './types';
import { normalizeVersion } from './version';

/** Larger object definition files are refused (the biggest OMA object is ~100 KB). */
export const MAX_DDF_BYTES = 2 * 1024 * 1024;

const TYPES: Readonly<Record<string, ResourceType>> = {
  '': 'none',
  integer: 'integer',
  'unsigned integer': 'unsigned',
  unsigned: 'unsigned',
  float: 'float',
  boolean: 'boolean',
  string: 'string',
  opaque: 'opaque',
  time: 'time',
  objlnk: 'objlnk',
  corelnk: 'corelnk',
};

const OPERATIONS: Readonly<Record<string, Operations>> = { '': '', R: 'R', W: 'W', RW: 'RW', E: 'E', WR: 'RW' };

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (_name, jpath) => jpath === 'LWM2M.Object' || jpath === 'LWM2M.Object.Resources.Item',
});

function fail(source: string, message: string, cause?: unknown): never {
  throw new Lwm2mFotaError('ERR_LWM2M_MODEL', `${source}: ${message}`, {
    cause,
    context: { path: source },
  });
}

/** Text content of an element as fast-xml-parser gives it (string, or object when it has attributes). */
function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object' && '#text' in (value as Record<string, unknown>)) {
    return text((value as Record<string, unknown>)['#text']);
  }
  return '';
}

function id(value: unknown, max: number, what: string, source: string): number {
  const t = text(value);
  if (!/^\d{1,5}$/.test(t) || Number(t) > max) fail(source, `${what} "${t}" is not an integer in 0..${max}`);
  return Number(t);
}

function multiplicity(value: unknown, what: string, source: string): boolean {
  const t = text(value).toLowerCase();
  if (t === 'multiple') return true;
  if (t === 'single') return false;
  return fail(source, `${what} MultipleInstances "${text(value)}" is neither Single nor Multiple`);
}

function mandatory(value: unknown, what: string, source: string): boolean {
  const t = text(value).toLowerCase();
  if (t === 'mandatory') return true;
  if (t === 'optional') return false;
  return fail(source, `${what} Mandatory "${text(value)}" is neither Mandatory nor Optional`);
}

function version(value: unknown, what: string, source: string): string {
  const t = text(value);
  if (t === '') return '1.0';
  return normalizeVersion(t) ?? fail(source, `${what} "${t}" is not a major.minor version`);
}

/** "0..255", "0-3", "-128..127", "1..65534" → {min, max}; anything else (lists, "6 bytes") → undefined. */
export function parseRange(text: string): NumericRange | undefined {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*(?:\.\.|-)\s*(-?\d+(?:\.\d+)?)\s*(?:bytes)?\s*$/i.exec(text);
  if (!m) return undefined;
  const min = Number(m[1]);
  const max = Number(m[2]);
  return Number.isFinite(min) && Number.isFinite(max) && min <= max ? { min, max } : undefined;
}

function resource(item: Record<string, unknown>, objectName: string, source: string): ResourceModel {
  const rid = id(item['@_ID'], 65535, `${objectName}: resource ID`, source);
  const where = `${objectName} resource ${rid}`;
  const opsText = text(item['Operations']).toUpperCase();
  const operations = OPERATIONS[opsText];
  if (operations === undefined) fail(source, `${where}: Operations "${opsText}" is not one of R, W, RW, E or empty`);
  const typeText = text(item['Type']).toLowerCase();
  const type = TYPES[typeText];
  if (type === undefined) fail(source, `${where}: unknown Type "${text(item['Type'])}"`);
  if (type === 'none' && operations !== 'E') fail(source, `${where}: a Type is required for a resource that is not executable`);
  const rangeEnumeration = text(item['RangeEnumeration']);
  return {
    id: rid,
    name: text(item['Name']),
    operations,
    multiple: multiplicity(item['MultipleInstances'], where, source),
    mandatory: mandatory(item['Mandatory'], where, source),
    type,
    rangeEnumeration,
    range: parseRange(rangeEnumeration),
    units: text(item['Units']),
    description: text(item['Description']),
  };
}

function object(o: Record<string, unknown>, source: string): ObjectModel {
  const objectId = id(o['ObjectID'], 65535, 'ObjectID', source);
  const name = text(o['Name']);
  const where = `object ${objectId}`;
  const resources: ResourceModel[] = [];
  const res = o['Resources'];
  const items = res !== null && typeof res === 'object' ? (res as Record<string, unknown>)['Item'] : undefined;
  if (items !== undefined && !Array.isArray(items)) fail(source, `${where}: Resources must contain Item elements`);
  const seen = new Set<number>();
  for (const item of (items as unknown[] | undefined) ?? []) {
    if (item === null || typeof item !== 'object') fail(source, `${where}: an Item without content`);
    const r = resource(item as Record<string, unknown>, where, source);
    if (seen.has(r.id)) fail(source, `${where}: resource ${r.id} is defined twice`);
    seen.add(r.id);
    resources.push(r);
  }
  resources.sort((a, b) => a.id - b.id);
  const ver = version(o['ObjectVersion'], `${where}: ObjectVersion`, source);
  return {
    id: objectId,
    name,
    version: ver,
    lwm2mVersion: version(o['LWM2MVersion'], `${where}: LWM2MVersion`, source),
    urn: text(o['ObjectURN']) || (ver === '1.0' ? `urn:oma:lwm2m:x:${objectId}` : `urn:oma:lwm2m:x:${objectId}:${ver}`),
    multiple: multiplicity(o['MultipleInstances'], where, source),
    mandatory: mandatory(o['Mandatory'], where, source),
    description: text(o['Description1']),
    description2: text(o['Description2']),
    resources,
    source,
  };
}

/**
 * Parses one DDF XML document (one or more `<Object>` elements under `<LWM2M>`).
 *
 * @example parseDdf(fs.readFileSync('objects/5.xml', 'utf8'), 'objects/5.xml')[0].version // '1.0'
 * @throws Lwm2mFotaError ERR_LWM2M_MODEL when the XML is malformed or is not a valid
 *   object definition; `context.path` is `source`.
 */
export function parseDdf(xml: string, source = '<memory>'): ObjectModel[] {
  if (xml.length > MAX_DDF_BYTES) fail(source, `file larger than ${MAX_DDF_BYTES} bytes`);
  // Entity declarations are the way to make a small XML file expand into a huge one; object
  // definitions never need them.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) fail(source, 'DOCTYPE and ENTITY declarations are not accepted');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    fail(source, `malformed XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}`);
  }
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (err) {
    fail(source, `malformed XML: ${(err as Error).message}`, err);
  }
  const root = (doc as Record<string, unknown> | undefined)?.['LWM2M'];
  if (root === null || typeof root !== 'object') fail(source, 'the root element must be <LWM2M>');
  const objects = (root as Record<string, unknown>)['Object'];
  if (!Array.isArray(objects) || objects.length === 0) fail(source, '<LWM2M> contains no <Object>');
  return objects.map((o: unknown) => {
    if (o === null || typeof o !== 'object') fail(source, 'an empty <Object>');
    return object(o as Record<string, unknown>, source);
  });
}

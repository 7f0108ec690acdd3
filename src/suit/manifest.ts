/**
 * SUIT_Manifest codec (draft-ietf-suit-manifest-34 §8.4): manifest, common section, command
 * sequences, parameters, text. Decoding is strict about the types the draft gives each known
 * key and preserves everything it does not know; encoding emits the deterministic form, so
 * `encodeManifest(decodeManifest(b))` equals `b` for every manifest the decoder accepts.
 */
import { Lwm2mFotaError } from '../errors';
import { CborMap, CborTag, decodeCbor, encodeCbor, type CborValue } from './cbor';
import { CommonKey, ManifestKey, REPORTING_POLICY_COMMANDS, SuitCommandCode, SuitParameterLabel, SuitTag } from './constants';
import type {
  CborEntry,
  SuitCommand,
  SuitCommandArg,
  SuitCommandSequence,
  SuitCommon,
  SuitComponentId,
  SuitDigest,
  SuitManifest,
  SuitParameter,
  SuitParameterValue,
  SuitSeverable,
  SuitText,
  SuitTextLanguage,
} from './types';

export function structureError(message: string, context: Record<string, string | number> = {}): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_SUIT_STRUCTURE', message, { context });
}

export function isUint(v: CborValue): v is number | bigint {
  return (typeof v === 'number' && v >= 0) || (typeof v === 'bigint' && v >= 0n);
}

function isInt(v: CborValue): v is number | bigint {
  return typeof v === 'number' || typeof v === 'bigint';
}

function expectMap(v: CborValue, what: string): CborMap {
  if (!(v instanceof CborMap)) throw structureError(`${what} must be a map`);
  return v;
}

function expectBstr(v: CborValue, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw structureError(`${what} must be a byte string`);
  return v;
}

function smallInt(v: CborValue, what: string): number {
  if (typeof v !== 'number') throw structureError(`${what} must be an integer in range`);
  return v;
}

// ---------------------------------------------------------------------------------------
// SUIT_Digest

/** Decodes SUIT_Digest = [alg, bytes, * ext]. @throws ERR_SUIT_STRUCTURE */
export function digestFromCbor(v: CborValue, what = 'SUIT_Digest'): SuitDigest {
  if (!Array.isArray(v) || v.length < 2) throw structureError(`${what} must be [alg, bytes]`);
  const [alg, bytes, ...ext] = v;
  if (typeof alg !== 'number') throw structureError(`${what} algorithm must be an integer`);
  if (!(bytes instanceof Uint8Array)) throw structureError(`${what} bytes must be a byte string`);
  return ext.length > 0 ? { alg, bytes, extensions: ext } : { alg, bytes };
}

export function digestToCbor(d: SuitDigest): CborValue[] {
  return [d.alg, d.bytes, ...(d.extensions ?? [])];
}

// ---------------------------------------------------------------------------------------
// Parameters

function parameterFromCbor(label: number, v: CborValue): SuitParameterValue {
  const L = SuitParameterLabel;
  const name = `parameter ${label}`;
  switch (label) {
    case L.VendorIdentifier:
      if (v instanceof CborTag && v.tag === SuitTag.CborPen) return { type: 'pen', bytes: expectBstr(v.value, name) };
      return { type: 'bytes', bytes: expectUuid(v, 'vendor-id') };
    case L.ClassIdentifier:
      return { type: 'bytes', bytes: expectUuid(v, 'class-id') };
    case L.DeviceIdentifier:
      return { type: 'bytes', bytes: expectUuid(v, 'device-id') };
    case L.Content:
    case L.InvokeArgs:
    case L.FetchArguments:
      return { type: 'bytes', bytes: expectBstr(v, name) };
    case L.ImageDigest:
      return { type: 'digest', digest: digestFromCbor(decodeCbor(expectBstr(v, 'image-digest')), 'image-digest') };
    case L.ComponentSlot:
    case L.ImageSize:
    case L.SourceComponent:
      if (!isUint(v)) throw structureError(`${name} must be an unsigned integer`);
      return { type: 'uint', value: v };
    case L.StrictOrder:
    case L.SoftFailure:
      if (typeof v !== 'boolean') throw structureError(`${name} must be a boolean`);
      return { type: 'bool', value: v };
    case L.Uri:
      if (typeof v !== 'string') throw structureError('uri must be a text string');
      return { type: 'text', value: v };
    default:
      return { type: 'raw', value: v };
  }
}

function expectUuid(v: CborValue, what: string): Uint8Array {
  // "RFC4122_UUID = bstr .size 16"
  const b = expectBstr(v, what);
  if (b.length !== 16) throw structureError(`${what} must be a 16-byte UUID, got ${b.length} bytes`);
  return b;
}

function parameterToCbor(p: SuitParameterValue): CborValue {
  switch (p.type) {
    case 'bytes':
      return p.bytes;
    case 'pen':
      return new CborTag(SuitTag.CborPen, p.bytes);
    case 'digest':
      return encodeCbor(digestToCbor(p.digest));
    case 'uint':
    case 'bool':
    case 'text':
    case 'raw':
      return p.value;
  }
}

function parametersFromCbor(v: CborValue): SuitParameter[] {
  const m = expectMap(v, 'override-parameters argument');
  if (m.entries.length === 0) throw structureError('override-parameters needs at least one parameter');
  return m.entries.map(([k, val]) => {
    const label = smallInt(k, 'parameter label');
    return { label, value: parameterFromCbor(label, val) };
  });
}

// ---------------------------------------------------------------------------------------
// Command sequences

function commandArgFromCbor(code: number, v: CborValue): SuitCommandArg {
  const C = SuitCommandCode;
  if (REPORTING_POLICY_COMMANDS.has(code)) {
    if (typeof v !== 'number' || v < 0) throw structureError(`command ${code}: reporting policy must be an unsigned integer`);
    return { kind: 'reportingPolicy', value: v };
  }
  switch (code) {
    case C.SetComponentIndex: {
      // IndexArg = uint / true / [+uint]
      if (v === true) return { kind: 'componentIndex', value: true };
      if (typeof v === 'number' && v >= 0) return { kind: 'componentIndex', value: v };
      if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && x >= 0)) {
        return { kind: 'componentIndex', value: v as number[] };
      }
      throw structureError('set-component-index argument must be uint, true or [+uint]');
    }
    case C.OverrideParameters:
      return { kind: 'parameters', parameters: parametersFromCbor(v) };
    case C.TryEach: {
      // SUIT_Directive_Try_Each_Argument = [2* bstr .cbor SUIT_Command_Sequence, ?nil]
      if (!Array.isArray(v)) throw structureError('try-each argument must be an array');
      const nilFallback = v.length > 0 && v[v.length - 1] === null;
      const items = nilFallback ? v.slice(0, -1) : v;
      if (items.length < 2) throw structureError('try-each needs at least two sequences');
      return { kind: 'tryEach', sequences: items.map((s) => sequenceFromBstr(s, 'try-each sequence')), nilFallback };
    }
    case C.RunSequence:
      return { kind: 'sequence', sequence: sequenceFromBstr(v, 'run-sequence argument') };
    default:
      return { kind: 'raw', value: v };
  }
}

function commandArgToCbor(a: SuitCommandArg): CborValue {
  switch (a.kind) {
    case 'reportingPolicy':
      return a.value;
    case 'componentIndex':
      return Array.isArray(a.value) ? [...a.value] : a.value;
    case 'parameters':
      return new CborMap(a.parameters.map((p) => [p.label, parameterToCbor(p.value)]));
    case 'tryEach': {
      const out: CborValue[] = a.sequences.map((s) => encodeSequence(s));
      if (a.nilFallback) out.push(null);
      return out;
    }
    case 'sequence':
      return encodeSequence(a.sequence);
    case 'raw':
      return a.value;
  }
}

/** Decodes SUIT_Command_Sequence = [+ (code, arg)]. @throws ERR_SUIT_STRUCTURE */
export function sequenceFromCbor(v: CborValue): SuitCommandSequence {
  if (!Array.isArray(v) || v.length === 0 || v.length % 2 !== 0) {
    throw structureError('a command sequence must be a non-empty array of (code, argument) pairs');
  }
  const out: SuitCommandSequence = [];
  for (let i = 0; i < v.length; i += 2) {
    const code = v[i]!;
    if (typeof code !== 'number') throw structureError('command code must be an integer');
    out.push({ code, arg: commandArgFromCbor(code, v[i + 1]!) });
  }
  return out;
}

function sequenceFromBstr(v: CborValue, what: string): SuitCommandSequence {
  return sequenceFromCbor(decodeCbor(expectBstr(v, what)));
}

export function sequenceToCbor(seq: SuitCommandSequence): CborValue[] {
  const out: CborValue[] = [];
  for (const c of seq) out.push(c.code, commandArgToCbor(c.arg));
  return out;
}

/** The deterministic encoding of a command sequence (the content of its bstr wrapper). */
export function encodeSequence(seq: SuitCommandSequence): Uint8Array {
  return encodeCbor(sequenceToCbor(seq));
}

/** Decodes the content of a bstr-wrapped command sequence. @throws ERR_SUIT_CBOR, ERR_SUIT_STRUCTURE */
export function decodeSequence(bytes: Uint8Array): SuitCommandSequence {
  return sequenceFromCbor(decodeCbor(bytes));
}

// ---------------------------------------------------------------------------------------
// Common

function componentIdFromCbor(v: CborValue, what: string): SuitComponentId {
  if (!Array.isArray(v) || !v.every((x) => x instanceof Uint8Array)) throw structureError(`${what} must be an array of byte strings`);
  return v as Uint8Array[];
}

function commonFromCbor(v: CborValue): SuitCommon {
  const m = expectMap(v, 'suit-common');
  const common: SuitCommon = {};
  const ext: CborEntry[] = [];
  for (const [k, val] of m.entries) {
    if (k === CommonKey.Components) {
      if (!Array.isArray(val) || val.length === 0) throw structureError('suit-components must be a non-empty array');
      common.components = val.map((c) => componentIdFromCbor(c, 'component identifier'));
    } else if (k === CommonKey.SharedSequence) {
      common.sharedSequence = sequenceFromBstr(val, 'suit-shared-sequence');
    } else ext.push([k, val]);
  }
  if (ext.length > 0) common.extensions = ext;
  return common;
}

function commonToCbor(c: SuitCommon): CborMap {
  const m = new CborMap();
  if (c.components) m.set(CommonKey.Components, c.components.map((id) => [...id]));
  if (c.sharedSequence) m.set(CommonKey.SharedSequence, encodeSequence(c.sharedSequence));
  for (const e of c.extensions ?? []) m.set(e[0], e[1]);
  return m;
}

// ---------------------------------------------------------------------------------------
// Text

function textFieldsFrom(m: CborMap, ext: CborEntry[]): Array<[number, string]> {
  const fields: Array<[number, string]> = [];
  for (const [k, v] of m.entries) {
    if (typeof k === 'number' && typeof v === 'string') fields.push([k, v]);
    else ext.push([k, v]);
  }
  return fields;
}

/** Decodes SUIT_Text_Map = { + tag38-ltag => SUIT_Text_LMap }. @throws ERR_SUIT_STRUCTURE */
export function textFromCbor(v: CborValue): SuitText {
  const m = expectMap(v, 'suit-text');
  return m.entries.map(([lang, lmapV]): SuitTextLanguage => {
    if (typeof lang !== 'string') throw structureError('suit-text keys must be language tags');
    const lmap = expectMap(lmapV, 'suit-text language map');
    const language: SuitTextLanguage = { tag: lang, fields: [], components: [] };
    const ext: CborEntry[] = [];
    for (const [k, val] of lmap.entries) {
      if (typeof k === 'number' && typeof val === 'string') language.fields.push([k, val]);
      else if (Array.isArray(k) && k.every((x) => x instanceof Uint8Array) && val instanceof CborMap) {
        const cext: CborEntry[] = [];
        const fields = textFieldsFrom(val, cext);
        language.components.push(cext.length > 0 ? { id: k as Uint8Array[], fields, extensions: cext } : { id: k as Uint8Array[], fields });
      } else ext.push([k, val]);
    }
    if (ext.length > 0) language.extensions = ext;
    return language;
  });
}

export function textToCbor(t: SuitText): CborMap {
  return new CborMap(
    t.map((lang): CborEntry => {
      const lm = new CborMap();
      for (const [k, v] of lang.fields) lm.set(k, v);
      for (const c of lang.components) {
        const cm = new CborMap(c.fields.map(([k, v]): CborEntry => [k, v]));
        for (const e of c.extensions ?? []) cm.set(e[0], e[1]);
        lm.set([...c.id], cm);
      }
      for (const e of lang.extensions ?? []) lm.set(e[0], e[1]);
      return [lang.tag, lm];
    }),
  );
}

/** Decodes the content of a bstr-wrapped SUIT_Text_Map. */
export function decodeText(bytes: Uint8Array): SuitText {
  return textFromCbor(decodeCbor(bytes));
}

export function encodeText(t: SuitText): Uint8Array {
  return encodeCbor(textToCbor(t));
}

// ---------------------------------------------------------------------------------------
// Manifest

function severableFromCbor<T>(v: CborValue, what: string, decode: (bytes: Uint8Array) => T): SuitSeverable<T> {
  // "SUIT_Digest / bstr .cbor …": an array means severed, a bstr means inline.
  if (Array.isArray(v)) return { severed: true, digest: digestFromCbor(v, `${what} digest`) };
  return { severed: false, value: decode(expectBstr(v, what)) };
}

function severableToCbor<T>(s: SuitSeverable<T>, encode: (v: T) => Uint8Array): CborValue {
  return s.severed ? digestToCbor(s.digest) : encode(s.value);
}

/**
 * Decodes the content of the manifest bstr (optionally tag 1070). Call it only on bytes
 * whose authenticity was verified, or for an explicitly unverified inspection.
 *
 * @throws Lwm2mFotaError `ERR_SUIT_CBOR` (not deterministic CBOR), `ERR_SUIT_STRUCTURE`
 *   (missing or mistyped members, unsupported manifest version).
 */
export function decodeManifest(bytes: Uint8Array): SuitManifest {
  let v = decodeCbor(bytes);
  let tagged = false;
  if (v instanceof CborTag) {
    if (v.tag !== SuitTag.Manifest) throw structureError(`manifest tagged ${v.tag}, expected 1070`);
    v = v.value;
    tagged = true;
  }
  const m = expectMap(v, 'SUIT_Manifest');
  const K = ManifestKey;
  const version = m.get(K.Version);
  // §6.1: "the manifest processor … MUST inspect the manifest version field and fail when it
  // encounters an unsupported encoding version."
  if (version !== 1) throw structureError(`unsupported manifest version ${String(version)}`);
  const seq = m.get(K.SequenceNumber);
  if (seq === undefined || !isUint(seq)) throw structureError('suit-manifest-sequence-number must be an unsigned integer');
  const commonV = m.get(K.Common);
  if (commonV === undefined) throw structureError('suit-common is missing');
  const manifest: SuitManifest = { version: 1, sequenceNumber: seq, common: commonFromCbor(decodeCbor(expectBstr(commonV, 'suit-common'))) };
  if (tagged) manifest.tagged = true;
  const ext: CborEntry[] = [];
  for (const [k, val] of m.entries) {
    switch (k) {
      case K.Version:
      case K.SequenceNumber:
      case K.Common:
        break;
      case K.ReferenceUri:
        if (typeof val !== 'string') throw structureError('suit-reference-uri must be a text string');
        manifest.referenceUri = val;
        break;
      case K.Validate:
        manifest.validate = sequenceFromBstr(val, 'suit-validate');
        break;
      case K.Load:
        manifest.load = sequenceFromBstr(val, 'suit-load');
        break;
      case K.Invoke:
        manifest.invoke = sequenceFromBstr(val, 'suit-invoke');
        break;
      case K.PayloadFetch:
        manifest.payloadFetch = severableFromCbor(val, 'suit-payload-fetch', decodeSequence);
        break;
      case K.Install:
        manifest.install = severableFromCbor(val, 'suit-install', decodeSequence);
        break;
      case K.Text:
        manifest.text = severableFromCbor(val, 'suit-text', decodeText);
        break;
      default:
        if (!isInt(k) && typeof k !== 'string') throw structureError('manifest keys must be integers or text');
        ext.push([k, val]);
    }
  }
  if (ext.length > 0) manifest.extensions = ext;
  return manifest;
}

/** Encodes a manifest deterministically (the content of the envelope's manifest bstr). */
export function encodeManifest(manifest: SuitManifest): Uint8Array {
  const K = ManifestKey;
  const m = new CborMap();
  m.set(K.Version, manifest.version);
  m.set(K.SequenceNumber, manifest.sequenceNumber);
  m.set(K.Common, encodeCbor(commonToCbor(manifest.common)));
  if (manifest.referenceUri !== undefined) m.set(K.ReferenceUri, manifest.referenceUri);
  if (manifest.validate) m.set(K.Validate, encodeSequence(manifest.validate));
  if (manifest.load) m.set(K.Load, encodeSequence(manifest.load));
  if (manifest.invoke) m.set(K.Invoke, encodeSequence(manifest.invoke));
  if (manifest.payloadFetch) m.set(K.PayloadFetch, severableToCbor(manifest.payloadFetch, encodeSequence));
  if (manifest.install) m.set(K.Install, severableToCbor(manifest.install, encodeSequence));
  if (manifest.text) m.set(K.Text, severableToCbor(manifest.text, encodeText));
  for (const e of manifest.extensions ?? []) m.set(e[0], e[1]);
  return encodeCbor(manifest.tagged ? new CborTag(SuitTag.Manifest, m) : m);
}

/** Value conversions and checks shared by every codec. */
import { Lwm2mFotaError } from '../../../errors';
import type { ResourceModel, ValueType } from '../model/types';
import type { Lwm2mValue, ObjectLink, TypedValue } from './node';

/** A payload that does not decode: ERR_LWM2M_CONTENT_FORMAT with the byte offset where it went wrong. */
export function contentError(message: string, offset: number, cause?: unknown): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_LWM2M_CONTENT_FORMAT', `${message} (at byte ${offset})`, {
    cause,
    context: { offset },
  });
}

/** A value that does not fit its type or place: ERR_LWM2M_VALUE. */
export function valueError(message: string, path?: string): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_LWM2M_VALUE', message, path === undefined ? {} : { context: { path } });
}

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
export const UINT64_MAX = 2n ** 64n - 1n;
/** Seconds a Date can hold: ±8.64e15 ms. */
export const TIME_MAX_SECONDS = 8_640_000_000_000;

/** A number when safe, else the bigint: the canonical form decoders return. */
export function canonicalInteger(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

export function secondsToDate(seconds: bigint, offset: number): Date {
  if (seconds > BigInt(TIME_MAX_SECONDS) || seconds < -BigInt(TIME_MAX_SECONDS)) {
    throw contentError(`time ${seconds} s is outside the representable range`, offset);
  }
  return new Date(Number(seconds) * 1000);
}

/** Whole seconds since the epoch (sub-second parts are dropped, towards −∞). */
export function dateToSeconds(date: Date): bigint {
  return BigInt(Math.floor(date.getTime() / 1000));
}

export function formatObjectLink(link: ObjectLink): string {
  return `${link.objectId}:${link.instanceId}`;
}

/** "3:0" → {3, 0}; undefined when the text is not two 16-bit ids. */
export function parseObjectLink(text: string): ObjectLink | undefined {
  const m = /^(0|[1-9]\d{0,4}):(0|[1-9]\d{0,4})$/.exec(text);
  if (!m) return undefined;
  const objectId = Number(m[1]);
  const instanceId = Number(m[2]);
  return objectId <= 0xffff && instanceId <= 0xffff ? { objectId, instanceId } : undefined;
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const B64URL = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}(?:==)?|[A-Za-z0-9_-]{3}=?)?$/;

/**
 * Strict base64 (RFC 4648 §4) or base64url (§5, padding optional, as SenML writes it);
 * undefined for anything else. Node's own decoder skips invalid characters silently.
 */
export function decodeBase64(text: string, alphabet: 'base64' | 'base64url'): Buffer | undefined {
  if (!(alphabet === 'base64' ? B64 : B64URL).test(text)) return undefined;
  return Buffer.from(text, alphabet);
}

const INTEGER_TEXT = /^[+-]?\d{1,40}$/;
const FLOAT_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Decimal integer text → bigint, or undefined. */
export function parseIntegerText(text: string): bigint | undefined {
  return INTEGER_TEXT.test(text) ? BigInt(text) : undefined;
}

/** Decimal (optionally exponent) text → finite number, or undefined. */
export function parseFloatText(text: string): number | undefined {
  if (text.length > 400 || !FLOAT_TEXT.test(text)) return undefined;
  const v = Number(text);
  return Number.isFinite(v) ? v : undefined;
}

/** A float as decimal text that reads back to the same double ("-0" kept). */
export function formatFloat(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isBufferLike(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

/**
 * Checks that `value` is a valid `type` value before it is encoded; returns the integer as
 * a bigint for integer, unsigned and time types.
 *
 * @throws Lwm2mFotaError ERR_LWM2M_VALUE naming `where`.
 */
export function checkValue(type: ValueType, value: unknown, where: string): void {
  const bad = (what: string): never => {
    throw valueError(`${where}: ${what}`, where);
  };
  switch (type) {
    case 'integer':
    case 'unsigned': {
      let b: bigint;
      if (typeof value === 'bigint') b = value;
      else if (typeof value === 'number' && Number.isInteger(value)) b = BigInt(value);
      else return bad(`${type} value must be an integer number or a bigint`);
      const [min, max] = type === 'integer' ? [INT64_MIN, INT64_MAX] : [0n, UINT64_MAX];
      if (b < min || b > max) bad(`${b} is out of the ${type === 'integer' ? 'int64' : 'uint64'} range`);
      return;
    }
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) bad('float value must be a finite number');
      return;
    case 'boolean':
      if (typeof value !== 'boolean') bad('boolean value must be true or false');
      return;
    case 'string':
    case 'corelnk':
      if (typeof value !== 'string') bad(`${type} value must be a string`);
      // A lone surrogate has no UTF-8 form; encoding it would silently change the text.
      if (LONE_SURROGATE.test(value as string)) bad(`${type} value is not well-formed Unicode`);
      return;
    case 'opaque':
      if (!isBufferLike(value)) bad('opaque value must be a Buffer');
      return;
    case 'time': {
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) bad('time value must be a valid Date');
      return;
    }
    case 'objlnk': {
      const l = value as ObjectLink;
      const ok = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff;
      if (typeof value !== 'object' || value === null || !ok(l.objectId) || !ok(l.instanceId)) {
        bad('objlnk value must be { objectId, instanceId } with 16-bit ids');
      }
      return;
    }
  }
}

/** The integer of an integer/unsigned value as a bigint (after checkValue). */
export function integerOf(value: number | bigint): bigint {
  return typeof value === 'bigint' ? value : BigInt(value);
}

/**
 * A value as the decoders of self-describing formats (SenML, LwM2M JSON/CBOR, plain CBOR)
 * hand it over before the model types it.
 */
export type RawValue =
  | { readonly kind: 'number'; readonly value: number | bigint; readonly offset: number }
  | { readonly kind: 'string'; readonly value: string; readonly offset: number }
  | { readonly kind: 'boolean'; readonly value: boolean; readonly offset: number }
  | { readonly kind: 'bytes'; readonly value: Buffer; readonly offset: number }
  | { readonly kind: 'objlnk'; readonly value: ObjectLink; readonly offset: number }
  | { readonly kind: 'time'; readonly value: number | bigint; readonly offset: number };

export interface TypingOptions {
  /** LwM2M JSON carries opaque values as base64 in "sv"; SenML and CBOR as bytes. */
  readonly opaqueAsBase64?: boolean;
}

function numberToBigInt(v: number | bigint): bigint | undefined {
  if (typeof v === 'bigint') return v;
  return Number.isInteger(v) ? BigInt(v) : undefined;
}

/**
 * Types a raw value with the resource's model type; without a model, infers the type from
 * the value (integral number → integer, other number → float, text → string, bytes →
 * opaque).
 *
 * @throws Lwm2mFotaError ERR_LWM2M_CONTENT_FORMAT when the value does not fit the type.
 */
export function typeRawValue(raw: RawValue, model: ResourceModel | undefined, options: TypingOptions = {}): TypedValue {
  const type: ValueType | undefined =
    model === undefined || model.type === 'none' ? undefined : model.type;
  const mismatch = (): never => {
    throw contentError(`a ${raw.kind} value where the model expects ${type ?? 'a value'}`, raw.offset);
  };
  if (type === undefined) {
    if (model?.type === 'none') {
      throw contentError(`resource ${model.id} (${model.name}) is executable and has no value`, raw.offset);
    }
    switch (raw.kind) {
      case 'number': {
        const b = numberToBigInt(raw.value);
        if (b !== undefined && b >= INT64_MIN && b <= INT64_MAX) return { type: 'integer', value: canonicalInteger(b) };
        if (b !== undefined && b > INT64_MAX && b <= UINT64_MAX) return { type: 'unsigned', value: canonicalInteger(b) };
        if (typeof raw.value === 'bigint') return mismatch();
        return { type: 'float', value: raw.value };
      }
      case 'string':
        return { type: 'string', value: raw.value };
      case 'boolean':
        return { type: 'boolean', value: raw.value };
      case 'bytes':
        return { type: 'opaque', value: raw.value };
      case 'objlnk':
        return { type: 'objlnk', value: raw.value };
      case 'time': {
        const b = numberToBigInt(raw.value);
        return b === undefined ? mismatch() : { type: 'time', value: secondsToDate(b, raw.offset) };
      }
    }
  }
  switch (type) {
    case 'integer':
    case 'unsigned': {
      if (raw.kind !== 'number') return mismatch();
      const b = numberToBigInt(raw.value);
      if (b === undefined) throw contentError(`${raw.value} is not an integer`, raw.offset);
      const [min, max] = type === 'integer' ? [INT64_MIN, INT64_MAX] : [0n, UINT64_MAX];
      if (b < min || b > max) throw contentError(`${b} is out of the ${type} range`, raw.offset);
      return { type, value: canonicalInteger(b) };
    }
    case 'float':
      if (raw.kind !== 'number') return mismatch();
      return { type, value: Number(raw.value) };
    case 'boolean':
      if (raw.kind !== 'boolean') return mismatch();
      return { type, value: raw.value };
    case 'string':
    case 'corelnk':
      if (raw.kind !== 'string') return mismatch();
      return { type, value: raw.value };
    case 'opaque':
      if (raw.kind === 'bytes') return { type, value: raw.value };
      if (raw.kind === 'string' && options.opaqueAsBase64 === true) {
        const b = decodeBase64(raw.value, 'base64');
        if (b === undefined) throw contentError('opaque value is not valid base64', raw.offset);
        return { type, value: b };
      }
      return mismatch();
    case 'time': {
      if (raw.kind !== 'number' && raw.kind !== 'time') return mismatch();
      const b = numberToBigInt(raw.value);
      if (b === undefined) throw contentError(`time ${raw.value} is not a whole number of seconds`, raw.offset);
      return { type, value: secondsToDate(b, raw.offset) };
    }
    case 'objlnk': {
      if (raw.kind === 'objlnk') return { type, value: raw.value };
      if (raw.kind === 'string') {
        const l = parseObjectLink(raw.value);
        if (l === undefined) throw contentError(`"${raw.value}" is not an object link (objectId:instanceId)`, raw.offset);
        return { type, value: l };
      }
      return mismatch();
    }
  }
}

/** Equality of two values of one type (Buffers by content, Dates by time, links by ids). */
export function valuesEqual(a: Lwm2mValue, b: Lwm2mValue): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null && 'objectId' in a && 'objectId' in b) {
    return a.objectId === b.objectId && a.instanceId === b.instanceId;
  }
  return Object.is(a, b);
}

/**
 * text/plain (Content-Format 0), TS Core §7.4 (plain text): one value as UTF-8 text. Integers and
 * times in decimal, floats in decimal (exponent accepted), booleans "0"/"1", opaque values
 * in base64, object links as "objectId:instanceId".
 */
import type { LwM2mPath } from '../model/path';
import type { Lwm2mModel } from '../model/types';
import type { NodeCodec } from './codec';
import type { Lwm2mNode, TypedValue } from './node';
import { singleNode, singleTarget, singleValueOf } from './single-value';
import {
  INT64_MAX,
  INT64_MIN,
  UINT64_MAX,
  canonicalInteger,
  contentError,
  dateToSeconds,
  decodeBase64,
  formatFloat,
  formatObjectLink,
  parseFloatText,
  parseIntegerText,
  parseObjectLink,
  secondsToDate,
} from './values';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function valueToText(v: TypedValue): string {
  switch (v.type) {
    case 'integer':
    case 'unsigned':
      return String(v.value);
    case 'float':
      return formatFloat(v.value);
    case 'boolean':
      return v.value ? '1' : '0';
    case 'string':
    case 'corelnk':
      return v.value;
    case 'opaque':
      return Buffer.from(v.value).toString('base64');
    case 'time':
      return String(dateToSeconds(v.value));
    case 'objlnk':
      return formatObjectLink(v.value);
  }
}

export class TextCodec implements NodeCodec {
  readonly format = 0;
  readonly mediaType = 'text/plain;charset=utf-8';

  encode(node: Lwm2mNode, path: LwM2mPath, model: Lwm2mModel): Buffer {
    return Buffer.from(valueToText(singleValueOf(node, path, model, 'text/plain')), 'utf8');
  }

  decode(bytes: Buffer, path: LwM2mPath, model: Lwm2mModel): Lwm2mNode {
    const m = singleTarget(path, model, 'text/plain');
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch (err) {
      throw contentError('text/plain payload is not valid UTF-8', 0, err);
    }
    const type = m?.type ?? 'string';
    const bad = (what: string): never => {
      throw contentError(`"${text.length > 40 ? `${text.slice(0, 40)}…` : text}" is not ${what}`, 0);
    };
    let value: TypedValue;
    switch (type) {
      case 'integer':
      case 'unsigned':
      case 'time': {
        const b = parseIntegerText(text);
        if (b === undefined) return bad('a decimal integer');
        if (type === 'time') value = { type, value: secondsToDate(b, 0) };
        else {
          const [min, max] = type === 'integer' ? [INT64_MIN, INT64_MAX] : [0n, UINT64_MAX];
          if (b < min || b > max) return bad(`in the ${type} range`);
          value = { type, value: canonicalInteger(b) };
        }
        break;
      }
      case 'float': {
        const f = parseFloatText(text);
        if (f === undefined) return bad('a decimal number');
        value = { type, value: f };
        break;
      }
      case 'boolean':
        if (text !== '0' && text !== '1') return bad('a boolean ("0" or "1")');
        value = { type, value: text === '1' };
        break;
      case 'opaque': {
        const b = decodeBase64(text, 'base64');
        if (b === undefined) return bad('base64');
        value = { type, value: b };
        break;
      }
      case 'objlnk': {
        const l = parseObjectLink(text);
        if (l === undefined) return bad('an object link (objectId:instanceId)');
        value = { type, value: l };
        break;
      }
      case 'string':
      case 'corelnk':
        value = { type, value: text };
        break;
      case 'none':
        throw contentError('an executable resource has no value', 0);
    }
    return singleNode(path, value);
  }
}

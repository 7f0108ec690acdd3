/**
 * CoRE Link Format (RFC 6690, Content-Format 40): what Discover answers and Register
 * carries, e.g. `</>;rt="oma.lwm2m";ct=11543,</1/0>,</5>;ver=1.1,</3/0/7>;dim=2`.
 */
import { Lwm2mFotaError, type Lwm2mErrorCode } from '../../../errors';
import { normalizeVersion } from '../model/version';

export interface LinkAttribute {
  readonly name: string;
  /** Absent for a flag attribute (`;obs`). */
  readonly value?: string;
  /** Whether the value was (or is to be) written as a quoted-string. */
  readonly quoted?: boolean;
}

export interface Link {
  /** The URI-Reference between "<" and ">". */
  readonly uri: string;
  readonly attributes: readonly LinkAttribute[];
}

// RFC 6690 §2: parmname and ptoken character sets.
const PARMNAME = /^[A-Za-z0-9!#$&+\-.^_`|~*]+$/;
const PTOKEN = /^[!#$%&'()*+\-./0-9:<=>?@A-Z[\]^_`a-z{|}~]+$/;

function fail(code: Lwm2mErrorCode, message: string, offset: number): never {
  throw new Lwm2mFotaError(code, `${message} (at byte ${offset})`, { context: { offset } });
}

/**
 * Parses a link-format document. Whitespace around "," and ";" is tolerated (clients
 * insert line breaks); anything else that is not RFC 6690 is refused.
 *
 * @throws Lwm2mFotaError with `code` (ERR_LWM2M_LINK_FORMAT by default) and `context.offset`.
 */
export function parseLinkFormat(input: string | Buffer, code: Lwm2mErrorCode = 'ERR_LWM2M_LINK_FORMAT'): Link[] {
  let s: string;
  if (typeof input === 'string') s = input;
  else {
    try {
      s = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      return fail(code, 'link format is not valid UTF-8', 0);
    }
  }
  const byteAt = (i: number): number => Buffer.byteLength(s.slice(0, i), 'utf8');
  const links: Link[] = [];
  let i = 0;
  // Character tests by code (this runs for every registration; a RegExp per character showed in profiles).
  const isWs = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
  // What /\s/ matches: the four above, VT, FF and Unicode spaces (all at or above 0x80).
  const isSpace = (i: number, c: number): boolean => isWs(c) || c === 0x0b || c === 0x0c || (c >= 0x80 && /\s/.test(s[i] as string));
  const ws = (): void => {
    while (i < s.length && isWs(s.charCodeAt(i))) i++;
  };
  ws();
  if (i === s.length) return links;
  for (;;) {
    ws();
    if (s[i] !== '<') fail(code, 'expected "<" to start a link', byteAt(i));
    const close = s.indexOf('>', i + 1);
    if (close < 0) fail(code, 'unterminated "<" in link', byteAt(i));
    const uri = s.slice(i + 1, close);
    if (/[\s<>"]/.test(uri)) fail(code, 'invalid character in a link target', byteAt(i + 1));
    i = close + 1;
    const attributes: LinkAttribute[] = [];
    for (;;) {
      ws();
      if (s[i] !== ';') break;
      i++;
      ws();
      const start = i;
      for (let c = s.charCodeAt(i); i < s.length && c !== 0x3d && c !== 0x3b && c !== 0x2c && !isSpace(i, c); c = s.charCodeAt(++i));
      const name = s.slice(start, i);
      if (!PARMNAME.test(name)) fail(code, `invalid attribute name "${name}"`, byteAt(start));
      ws();
      if (s[i] !== '=') {
        attributes.push({ name });
        continue;
      }
      i++;
      ws();
      if (s[i] === '"') {
        let value = '';
        i++;
        for (;;) {
          const c = s[i];
          if (c === undefined) fail(code, 'unterminated quoted-string', byteAt(start));
          if (c === '"') {
            i++;
            break;
          }
          if (c === '\\') {
            const n = s[i + 1];
            if (n === undefined) fail(code, 'unterminated quoted-string', byteAt(start));
            value += n;
            i += 2;
            continue;
          }
          value += c;
          i++;
        }
        attributes.push({ name, value, quoted: true });
      } else {
        const vs = i;
        for (let c = s.charCodeAt(i); i < s.length && c !== 0x3b && c !== 0x2c && !isSpace(i, c); c = s.charCodeAt(++i));
        const value = s.slice(vs, i);
        if (!PTOKEN.test(value)) fail(code, `invalid value for attribute "${name}"`, byteAt(vs));
        attributes.push({ name, value });
      }
    }
    links.push({ uri, attributes });
    ws();
    if (i === s.length) return links;
    if (s[i] !== ',') fail(code, 'expected "," between links', byteAt(i));
    i++;
  }
}

function formatAttribute(a: LinkAttribute): string {
  if (!PARMNAME.test(a.name)) throw new Lwm2mFotaError('ERR_LWM2M_VALUE', `invalid link attribute name "${a.name}"`);
  if (a.value === undefined) return a.name;
  const quote = a.quoted === true || !PTOKEN.test(a.value);
  return quote ? `${a.name}="${a.value.replace(/(["\\])/g, '\\$1')}"` : `${a.name}=${a.value}`;
}

/** Serializes links (RFC 6690 §2), quoting values that are quoted or are not ptokens. */
export function formatLinkFormat(links: readonly Link[]): string {
  return links
    .map((l) => {
      if (/[\s<>"]/.test(l.uri)) throw new Lwm2mFotaError('ERR_LWM2M_VALUE', `invalid link target "${l.uri}"`);
      return `<${l.uri}>${l.attributes.map((a) => `;${formatAttribute(a)}`).join('')}`;
    })
    .join(',');
}

/** The value of the first attribute named `name`: a string, `true` for a flag, undefined when absent. */
export function linkAttribute(link: Link, name: string): string | true | undefined {
  const a = link.attributes.find((x) => x.name === name);
  return a === undefined ? undefined : (a.value ?? true);
}

/**
 * Object versions from registration links (`</5>;ver=1.1` → 5 ↦ "1.1"), the input of
 * `ModelRegistry.forDevice`. Objects without `ver` are absent (they mean 1.0). Links are
 * read relative to `rootPath` (the alternate path of `</path>;rt="oma.lwm2m"`, default "/").
 */
export function objectVersionsFromLinks(links: readonly Link[], rootPath = '/'): Map<number, string> {
  const root = rootPath.endsWith('/') ? rootPath : `${rootPath}/`;
  const out = new Map<number, string>();
  for (const l of links) {
    if (!l.uri.startsWith(root)) continue;
    const rest = l.uri.slice(root.length);
    if (!/^(0|[1-9]\d{0,4})$/.test(rest) || Number(rest) > 0xffff) continue;
    const ver = linkAttribute(l, 'ver');
    const v = typeof ver === 'string' ? normalizeVersion(ver) : undefined;
    if (v !== undefined) out.set(Number(rest), v);
  }
  return out;
}

/** The link-format codec of the registry: ERR_LWM2M_CONTENT_FORMAT on bad input, like every decoder. */
export class LinkFormatCodec {
  readonly format = 40;
  readonly mediaType = 'application/link-format';

  encode(links: readonly Link[]): Buffer {
    return Buffer.from(formatLinkFormat(links), 'utf8');
  }

  decode(bytes: Buffer): Link[] {
    return parseLinkFormat(bytes, 'ERR_LWM2M_CONTENT_FORMAT');
  }
}

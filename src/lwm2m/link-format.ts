import { Lwm2mFotaError } from '../errors';

/**
 * CoRE Link Format (RFC 6690 §2):
 *
 *   Link            = link-value-list
 *   link-value-list = [ link-value *[ "," link-value ]]
 *   link-value      = "<" URI-Reference ">" *( ";" link-param )
 *   link-param      = parmname [ "=" ( ptoken / quoted-string ) ]
 *
 * Parameters without a value are kept as `true`. Repeated parameters keep the first
 * value (RFC 8288 §3: "occurrences after the first MUST be ignored" for rel; we apply
 * it to all, which LwM2M never relies on). Whitespace around separators is tolerated
 * because real clients emit it after commas.
 */
export interface Link {
  readonly uri: string;
  readonly params: Readonly<Record<string, string | true>>;
}

export interface LinkFormatLimits {
  /** Most links accepted in one document (default 4096). */
  readonly maxLinks?: number;
}

const PARMNAME = /[A-Za-z0-9!#$&+\-.^_`|~*]/;
// ptoken characters (RFC 6690 §2), plus '/' and '=' which real clients put in unquoted values.
const PTOKEN = /[A-Za-z0-9!#$%&'()*+\-.\/:<=>?@[\]^_`{|}~]/;

function fail(message: string, offset: number): never {
  throw new Lwm2mFotaError('ERR_LWM2M_LINK_FORMAT', `${message} at offset ${offset}`, { context: { offset } });
}

/**
 * Parses a link-format document. Throws ERR_LWM2M_LINK_FORMAT (with `context.offset`)
 * on anything that is not RFC 6690 link format; never returns a partial list.
 *
 * @example parseLinkFormat('</1/0>,</5>;ver=1.1') // [{ uri: '/1/0', params: {} }, { uri: '/5', params: { ver: '1.1' } }]
 */
export function parseLinkFormat(text: string, limits: LinkFormatLimits = {}): Link[] {
  const maxLinks = limits.maxLinks ?? 4096;
  const links: Link[] = [];
  const n = text.length;
  let i = 0;
  const skipWs = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\r' || text[i] === '\n')) i++;
  };
  skipWs();
  if (i === n) return links;
  for (;;) {
    skipWs();
    if (text[i] !== '<') fail('expected "<"', i);
    const close = text.indexOf('>', i + 1);
    if (close < 0) fail('unterminated URI reference', i);
    const uri = text.slice(i + 1, close);
    for (let k = 0; k < uri.length; k++) {
      const c = uri.charCodeAt(k);
      if (c <= 0x20 || c === 0x7f || c === 0x3c || c === 0x22) fail('invalid character in URI reference', i + 1 + k);
    }
    i = close + 1;
    const params: Record<string, string | true> = {};
    skipWs();
    while (text[i] === ';') {
      i++;
      skipWs();
      const nameStart = i;
      while (i < n && PARMNAME.test(text[i]!)) i++;
      if (i === nameStart) fail('expected a parameter name', i);
      const name = text.slice(nameStart, i);
      let value: string | true = true;
      skipWs();
      if (text[i] === '=') {
        i++;
        skipWs();
        if (text[i] === '"') {
          i++;
          let v = '';
          for (;;) {
            if (i >= n) fail('unterminated quoted string', i);
            const c = text[i]!;
            if (c === '"') break;
            if (c === '\\') {
              if (i + 1 >= n) fail('dangling escape', i);
              v += text[i + 1];
              i += 2;
              continue;
            }
            v += c;
            i++;
          }
          i++;
          value = v;
        } else {
          const valueStart = i;
          while (i < n && PTOKEN.test(text[i]!)) i++;
          if (i === valueStart) fail(`expected a value for "${name}"`, i);
          value = text.slice(valueStart, i);
        }
      }
      if (!(name in params)) params[name] = value;
      skipWs();
    }
    links.push({ uri, params });
    if (links.length > maxLinks) fail(`more than ${maxLinks} links`, i);
    if (i === n) return links;
    if (text[i] !== ',') fail('expected "," or ";"', i);
    i++;
  }
}

/** Serialises links back to link format, quoting values that need it. */
export function formatLinkFormat(links: readonly Link[]): string {
  return links
    .map((l) => {
      let s = `<${l.uri}>`;
      for (const [k, v] of Object.entries(l.params)) {
        if (v === true) s += `;${k}`;
        else if (/^[A-Za-z0-9.\-_]+$/.test(v) && k !== 'rt' && k !== 'if') s += `;${k}=${v}`;
        else s += `;${k}="${v.replace(/(["\\])/g, '\\$1')}"`;
      }
      return s;
    })
    .join(',');
}

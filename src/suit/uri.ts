/**
 * URI reference resolution (RFC 3986 §5.2). A manifest may name its image with a relative
 * reference such as `/fw/<sha256>`; the device resolves it against the URI it fetched the
 * envelope from.
 */

interface UriParts {
  scheme?: string;
  authority?: string;
  path: string;
  query?: string;
  fragment?: string;
}

// RFC 3986 Appendix B.
const URI_REGEX = /^(?:([^:/?#]+):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/s;

function parse(uri: string): UriParts {
  const m = URI_REGEX.exec(uri);
  // The expression matches every string; the guard keeps the type checker honest.
  if (!m) throw new TypeError(`not a URI reference: "${uri}"`);
  const parts: UriParts = { path: m[3] ?? '' };
  if (m[1] !== undefined) parts.scheme = m[1];
  if (m[2] !== undefined) parts.authority = m[2];
  if (m[4] !== undefined) parts.query = m[4];
  if (m[5] !== undefined) parts.fragment = m[5];
  return parts;
}

/** RFC 3986 §5.2.4 remove_dot_segments. */
function removeDotSegments(path: string): string {
  let input = path;
  const output: string[] = [];
  while (input.length > 0) {
    if (input.startsWith('../')) input = input.slice(3);
    else if (input.startsWith('./')) input = input.slice(2);
    else if (input.startsWith('/./')) input = input.slice(2);
    else if (input === '/.') input = '/';
    else if (input.startsWith('/../')) {
      input = input.slice(3);
      output.pop();
    } else if (input === '/..') {
      input = '/';
      output.pop();
    } else if (input === '.' || input === '..') input = '';
    else {
      const next = input.indexOf('/', input.startsWith('/') ? 1 : 0);
      const seg = next === -1 ? input : input.slice(0, next);
      output.push(seg);
      input = next === -1 ? '' : input.slice(next);
    }
  }
  return output.join('');
}

/** RFC 3986 §5.2.3 merge. */
function merge(base: UriParts, refPath: string): string {
  if (base.authority !== undefined && base.path === '') return '/' + refPath;
  const i = base.path.lastIndexOf('/');
  return i === -1 ? refPath : base.path.slice(0, i + 1) + refPath;
}

function recompose(p: UriParts): string {
  let out = '';
  if (p.scheme !== undefined) out += p.scheme + ':';
  if (p.authority !== undefined) out += '//' + p.authority;
  out += p.path;
  if (p.query !== undefined) out += '?' + p.query;
  if (p.fragment !== undefined) out += '#' + p.fragment;
  return out;
}

/**
 * Resolves a URI reference against an absolute base URI (RFC 3986 §5.2.2, strict).
 *
 * @example resolveUriReference('coap://[2001:db8::1]:5683/fw/env', '/fw/ab12') // 'coap://[2001:db8::1]:5683/fw/ab12'
 * @throws TypeError when `base` has no scheme (§5.1: the base URI must be absolute).
 */
export function resolveUriReference(base: string, reference: string): string {
  const b = parse(base);
  if (b.scheme === undefined) throw new TypeError(`base URI must be absolute: "${base}"`);
  const r = parse(reference);
  const t: UriParts = { path: '' };
  if (r.scheme !== undefined) {
    t.scheme = r.scheme;
    if (r.authority !== undefined) t.authority = r.authority;
    t.path = removeDotSegments(r.path);
    if (r.query !== undefined) t.query = r.query;
  } else {
    if (r.authority !== undefined) {
      t.authority = r.authority;
      t.path = removeDotSegments(r.path);
      if (r.query !== undefined) t.query = r.query;
    } else {
      if (r.path === '') {
        t.path = b.path;
        if (r.query !== undefined) t.query = r.query;
        else if (b.query !== undefined) t.query = b.query;
      } else {
        t.path = r.path.startsWith('/') ? removeDotSegments(r.path) : removeDotSegments(merge(b, r.path));
        if (r.query !== undefined) t.query = r.query;
      }
      if (b.authority !== undefined) t.authority = b.authority;
    }
    t.scheme = b.scheme;
  }
  if (r.fragment !== undefined) t.fragment = r.fragment;
  return recompose(t);
}

/** True when `uri` is a relative reference (no scheme), e.g. "/fw/…" or "#payload". */
export function isRelativeReference(uri: string): boolean {
  return parse(uri).scheme === undefined;
}

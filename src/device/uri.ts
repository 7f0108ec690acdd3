/** CoAP URIs as the device meets them: the server address and Package URIs (RFC 7252 §6). */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Peer } from '../coap/types';

export interface CoapUri {
  readonly scheme: string;
  /** Host without brackets ("::1", "127.0.0.1", "fw.example.com"). */
  readonly host: string;
  readonly port: number;
  readonly path: string[];
  readonly query: string[];
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { coap: 5683, coaps: 5684, 'coap+tcp': 5683, 'coaps+tcp': 5684, http: 80, https: 443 };

/**
 * Splits an absolute URI into scheme, host, port, path segments and query (percent-decoded,
 * RFC 7252 §6.4). Returns undefined for anything that is not an absolute URI with a host.
 */
export function parseCoapUri(uri: string): CoapUri | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(\[[0-9A-Fa-f:.]+\]|[^/?#:[\]]*)(?::(\d{1,5}))?([^?#]*)(?:\?([^#]*))?(?:#.*)?$/.exec(uri);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  let host = m[2]!;
  if (host === '') return undefined;
  if (host.startsWith('[')) host = host.slice(1, -1);
  const port = m[3] !== undefined ? Number(m[3]) : DEFAULT_PORTS[scheme];
  if (port === undefined || port < 1 || port > 65535) return undefined;
  try {
    const path = (m[4] ?? '').split('/').filter((s, i) => !(i === 0 && s === '')).map(decodeURIComponent);
    // "coap://h/" and "coap://h" both mean the empty path (RFC 7252 §6.4 step 8).
    if (path.length === 1 && path[0] === '') path.pop();
    const query = m[5] === undefined || m[5] === '' ? [] : m[5].split('&').map(decodeURIComponent);
    return { scheme, host, port, path, query };
  } catch {
    return undefined;
  }
}

/** The UDP peer of a URI: IP literals as they are, names through the resolver. */
export async function resolvePeer(uri: CoapUri): Promise<Peer> {
  if (isIP(uri.host) !== 0) return { address: uri.host, port: uri.port };
  const { address } = await lookup(uri.host);
  return { address, port: uri.port };
}

/**
 * The absolute URI a device fetches a firmware file from: `coap://<host>:<port>/fw/<digest>`.
 *
 * The host must be an address the device can reach. UDP does not tell a server which of
 * its addresses a datagram was sent to, so when the endpoint is bound to a wildcard
 * address ('::', '0.0.0.0') the host is inferred from the device's own address: loopback
 * for a loopback peer, else the local interface address of the peer's family that shares
 * the longest prefix with it. Behind a NAT or a load balancer none of that is right: the
 * operator names the host (`packageHost`).
 */
import { networkInterfaces } from 'node:os';
import { isIPv4, isIPv6 } from 'node:net';
import { firmwarePath } from '../firmware/firmware-id';

const V4_MAPPED = '::ffff:';

/** `[v6]` or v4 or a name, as the authority of a URI needs it. */
export function uriHost(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

function plainV4(address: string): string | undefined {
  if (isIPv4(address)) return address;
  if (address.toLowerCase().startsWith(V4_MAPPED) && isIPv4(address.slice(V4_MAPPED.length))) return address.slice(V4_MAPPED.length);
  return undefined;
}

function isWildcard(address: string): boolean {
  return address === '::' || address === '0.0.0.0' || address === '';
}

function v6Words(address: string): number[] | undefined {
  const a = address.split('%')[0] as string;
  const [head = '', tail] = a.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  if (t.some((x) => x.includes('.')) || h.some((x) => x.includes('.'))) return undefined;
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  if (fill < 0) return undefined;
  return [...h, ...Array<string>(fill).fill('0'), ...t].map((x) => parseInt(x, 16));
}

function commonPrefix(a: number[], b: number[], bits: number): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const x = (a[i] as number) ^ (b[i] as number);
    if (x === 0) {
      n += bits;
      continue;
    }
    return n + (Math.clz32(x) - (32 - bits));
  }
  return n;
}

/**
 * The host part for a device at `peerAddress`, given the address the CoAP endpoint is
 * bound to.
 */
export function packageHostFor(peerAddress: string, boundAddress: string): string {
  if (!isWildcard(boundAddress)) return plainV4(boundAddress) ?? boundAddress;
  const v4 = plainV4(peerAddress);
  if (v4 !== undefined) {
    if (v4.startsWith('127.')) return '127.0.0.1';
    const peer = v4.split('.').map(Number);
    let best: { address: string; score: number } | undefined;
    for (const list of Object.values(networkInterfaces())) {
      for (const i of list ?? []) {
        if (i.family !== 'IPv4' || i.internal) continue;
        const score = commonPrefix(peer, i.address.split('.').map(Number), 8);
        if (best === undefined || score > best.score) best = { address: i.address, score };
      }
    }
    return best?.address ?? '127.0.0.1';
  }
  if (peerAddress === '::1') return '::1';
  const peer = v6Words(peerAddress);
  let best: { address: string; score: number } | undefined;
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) {
      if (i.family !== 'IPv6' || i.internal || i.scopeid !== 0) continue;
      const words = v6Words(i.address);
      const score = peer === undefined || words === undefined ? 0 : commonPrefix(peer, words, 16);
      if (best === undefined || score > best.score) best = { address: i.address, score };
    }
  }
  return best?.address ?? '::1';
}

/** `coap://<host>:<port>/fw/<digest>`. */
export function firmwareFileUri(host: string, port: number, digest: string): string {
  return `coap://${uriHost(host)}:${port}${firmwarePath(digest)}`;
}

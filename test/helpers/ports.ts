/** Free ports for a server a test starts itself: bound on port 0, read, released. */
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';

/** A UDP port free on `host` (default: every IPv6 and IPv4 address). */
export async function freeUdpPort(host = '::'): Promise<number> {
  const s = createSocket({ type: 'udp6', reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, host, () => resolve());
  });
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A TCP port free on 127.0.0.1 (where the REST API listens). */
export async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

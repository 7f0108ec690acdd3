import type { Command } from 'commander';
import { createServer } from '../../index';
import { action, parseIntOption, usageError } from '../run';

interface ServeOptions {
  coapPort: string;
  coapHost: string;
  httpPort: string;
  httpHost: string;
  dataDir: string;
  objects?: string[];
  lifetimeGrace: string;
  quiet?: boolean;
  trust?: string[];
  policy?: string;
  packageHost?: string;
  updateAttempts: string;
  updateBackoff: string;
  contactTimeout: string;
  awakeWindow: string;
  confirmBy?: string[];
}

const CHECKS = ['firmwareVersion', 'pkgVersion', 'result'] as const;
type Check = (typeof CHECKS)[number];

/** `--confirm-by <class>=<check>`: class ID (UUID) or class name → check. */
function parseConfirmBy(items: readonly string[]): Record<string, Check> {
  const out: Record<string, Check> = {};
  for (const item of items) {
    const eq = item.lastIndexOf('=');
    const key = eq > 0 ? item.slice(0, eq).trim() : '';
    const check = item.slice(eq + 1).trim() as Check;
    if (key === '' || !CHECKS.includes(check)) throw usageError(`--confirm-by takes <class id or name>=<firmwareVersion|pkgVersion|result>, got "${item}"`);
    out[key] = check;
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the LwM2M server (CoAP registration interface, firmware repository, REST API)')
    .option('--coap-port <port>', 'UDP port for CoAP', '5683')
    .option('--coap-host <addr>', 'address to bind CoAP to (:: = IPv6 and IPv4)', '::')
    .option('--http-port <port>', 'TCP port for the REST API', '8080')
    .option('--http-host <addr>', 'address to bind the REST API to', '127.0.0.1')
    .option('--data-dir <dir>', 'data directory (SQLite database, API token, firmware)', './data')
    .option('--objects <dir...>', 'extra folders of OMA DDF XML object definitions')
    .option('--lifetime-grace <seconds>', 'extra seconds after a lifetime before a silent device is dropped', '0')
    .option('--quiet', 'do not log every registration and update job transition (errors and start-up lines only)')
    .option('--trust <pub.pem...>', 'trusted public key(s) firmware must be signed with (PEM)')
    .option('--policy <file>', 'trust policy JSON (keys with roles, signer requirements, vendor/class IDs, minimum sequence number)')
    .option('--package-host <host>', 'host name or address devices fetch firmware from (default: inferred from the address each device reaches)')
    .option('--update-attempts <n>', 'attempts per update job before a transient failure (Update Result 4, timeout, lost contact) fails it', '3')
    .option('--update-backoff <seconds>', 'wait before the first retry of an update; doubles per attempt (at most 1 h)', '30')
    .option('--contact-timeout <seconds>', 'how long an update waits for a device whose registration lapsed before failing deviceUnreachable (0 = for ever)', '86400')
    .option('--confirm-by <class=check...>', 'what confirms updates of a device class (SUIT class ID or class name): firmwareVersion (/3/0/3, default), pkgVersion (/5/0/7) or result')
    .option('--awake-window <seconds>', 'queue mode: how long a device listens after it last contacted the server', '20')
    .action(
      action(async (opts: ServeOptions) => {
        const coapPort = parseIntOption('--coap-port', opts.coapPort, 0, 65535);
        const httpPort = parseIntOption('--http-port', opts.httpPort, 0, 65535);
        const grace = parseIntOption('--lifetime-grace', opts.lifetimeGrace, 0, 86400);
        const attempts = parseIntOption('--update-attempts', opts.updateAttempts, 1, 100);
        const backoff = parseIntOption('--update-backoff', opts.updateBackoff, 0, 86400);
        const contact = parseIntOption('--contact-timeout', opts.contactTimeout, 0, 365 * 24 * 3600);
        const confirmByClass = opts.confirmBy === undefined ? undefined : parseConfirmBy(opts.confirmBy);
        const awakeWindow = parseIntOption('--awake-window', opts.awakeWindow, 1, 86400);
        const log = (line: string): void => {
          process.stdout.write(`${new Date().toISOString()} ${line}\n`);
        };
        const server = await createServer({
          dataDir: opts.dataDir,
          coapPort,
          coapHost: opts.coapHost,
          httpPort,
          httpHost: opts.httpHost,
          lifetimeGraceMs: grace * 1000,
          awakeWindowMs: awakeWindow * 1000,
          ...(opts.objects ? { objectDirs: opts.objects } : {}),
          ...(opts.trust ? { trust: opts.trust } : {}),
          ...(opts.policy !== undefined ? { policy: opts.policy } : {}),
          update: {
            config: { maxAttempts: attempts, backoffBaseMs: backoff * 1000, timeouts: { contact: contact * 1000 } },
            ...(confirmByClass === undefined ? {} : { confirmByClass }),
            ...(opts.packageHost === undefined ? {} : { packageHost: opts.packageHost }),
          },
          log,
          logRegistrations: !opts.quiet,
          logUpdates: !opts.quiet,
        });
        const c = server.coap.address();
        const h = server.api?.address();
        const host = c.address.includes(':') ? `[${c.address}]` : c.address;
        const udp = server.coap.transport() === 'batched' ? 'UDP batched: recvmmsg/sendmmsg' : `UDP: ${server.coap.transport()}`;
        process.stdout.write(`lwm2m-fota listening: coap://${host}:${c.port} (registration at /rd; ${udp})\n`);
        if (h) process.stdout.write(`REST API: http://${h.address}:${h.port}/api (token in ${server.dataDir}/api-token or LWM2M_FOTA_TOKEN)\n`);
        process.stdout.write(`data: ${server.dataDir} · ${server.registrations.count()} registered device(s) loaded\n`);
        process.stdout.write(
          server.firmware.trustConfigured
            ? `firmware: ${server.firmware.list().length} in the repository, served at /fw/<sha256>\n`
            : 'firmware: no --trust or --policy given, the repository refuses every firmware\n',
        );
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            log('shutting down');
            void server.close().then(resolve);
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
      }),
    );
}

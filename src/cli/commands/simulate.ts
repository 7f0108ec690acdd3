import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  DEVICE_EVENT_NAMES,
  Lwm2mFotaError,
  createFleet,
  isFirmwareId,
  formatFaultSpec,
  parseDuration,
  parseFaultSpec,
  parseProbability,
  type DeviceEvent,
  type DeviceEventName,
  type DeviceFaults,
  type FleetOptions,
} from '../../index';
import { loadPublicKey, type SuitTrustedKey } from '../../suit';
import { action, parseIntOption, usageError } from '../run';

interface SimulateOptions {
  server: string;
  endpoint: string;
  count: string;
  trust?: string[];
  vendorDomain?: string;
  className?: string;
  fwVersion: string;
  sequence: string;
  lwm2m: string;
  binding: string;
  blockSize: string;
  lifetime: string;
  flashSize: string;
  delivery: string;
  raw?: boolean;
  rawDigest?: string;
  fault?: string[];
  faultRate?: string;
  seed: string;
  rebootTime: string;
  queueWindow?: string;
  notifications: string;
  host?: string;
  json?: boolean;
  verbose?: boolean;
}

const FAULT_HELP = `
Faults (--fault, comma-separated, repeatable):
  drop=<p>               lose each datagram, in and out, with probability p (5% or 0.05)
  sleep=<duration>       queue mode (UQ): sleep this long between contacts (30s, 500ms, 2m)
  corrupt-block          flip a byte in a received image block      -> Update Result 5
  out-of-flash           the package does not fit                   -> 2 (push: 4.13 + Size1)
  out-of-ram             no memory for the manifest                 -> 3
  connection-lost        the radio drops half way through a download -> 4
  reboot-mid-download    reboot half way through a download         -> Idle, 4, re-register
  fail-install           installing fails, no reboot                -> 8, old version kept
  fail-boot              the new image does not boot; fall back     -> 8 after re-registering
  A one-shot fault fires once; add :<n> for n times or :always (connection-lost:2).
  --fault-rate <p> gives the faults to a seeded share p of the devices (--seed).

Example:
  lwm2m-fota simulate --server coap://[::1]:5683 --endpoint sensor --count 100 \\
    --trust oem.pub.pem --vendor-domain example.com --class-name sensor-v2 --fw-version 1.0.0 \\
    --fault drop=5%,connection-lost --fault-rate 10%
`;

/** "1M", "256k", "4096" → bytes. */
function parseSize(name: string, text: string): number {
  const m = /^(\d+)([kKmM]?)$/.exec(text.trim());
  if (!m) throw usageError(`${name} must be a byte count such as 4096, 256k or 1M, got "${text}"`);
  const unit = m[2]!.toLowerCase();
  return Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1);
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw usageError(`${name} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}

function loadTrust(files: readonly string[]): SuitTrustedKey[] {
  return files.map((file) => {
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      throw new Lwm2mFotaError('ERR_CLI_IO', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
    return { key: loadPublicKey(bytes) };
  });
}

/** The fleet options from the command line. Exported for tests. */
export function simulateOptions(o: SimulateOptions): FleetOptions {
  const count = parseIntOption('--count', o.count, 1, 100_000);
  const raw = o.raw === true;
  if (!raw && (o.trust === undefined || o.trust.length === 0)) throw usageError('--trust <pub.pem> is required (or --raw for devices that take raw images)');
  if (o.className !== undefined && o.vendorDomain === undefined) throw usageError('--class-name needs --vendor-domain');
  const faults: DeviceFaults = {};
  for (const spec of o.fault ?? []) Object.assign(faults, parseFaultSpec(spec));
  const blockSize = parseIntOption('--block-size', o.blockSize, 16, 1024);
  if ((blockSize & (blockSize - 1)) !== 0) throw usageError(`--block-size must be a power of two from 16 to 1024, got ${blockSize}`);
  let rawImageDigest: Buffer | undefined;
  if (o.rawDigest !== undefined) {
    if (!isFirmwareId(o.rawDigest.toLowerCase())) throw usageError('--raw-digest must be 64 hex digits (SHA-256)');
    rawImageDigest = Buffer.from(o.rawDigest, 'hex');
  }
  return {
    count,
    prefix: o.endpoint,
    exactName: count === 1,
    server: o.server,
    ...(raw ? { packageFormat: 'raw' as const } : { trustedKeys: loadTrust(o.trust ?? []) }),
    ...(rawImageDigest ? { rawImageDigest } : {}),
    ...(o.vendorDomain !== undefined ? { vendorDomain: o.vendorDomain } : {}),
    ...(o.className !== undefined ? { className: o.className } : {}),
    firmwareVersion: o.fwVersion,
    sequenceNumber: parseIntOption('--sequence', o.sequence, 0),
    lwm2mVersion: oneOf('--lwm2m', o.lwm2m, ['1.0', '1.1', '1.2'] as const),
    binding: oneOf('--binding', o.binding, ['U', 'UQ'] as const),
    blockSize,
    lifetime: parseIntOption('--lifetime', o.lifetime, 1, 0xffffffff),
    flashSize: parseSize('--flash-size', o.flashSize),
    deliveryMethod: oneOf('--delivery', o.delivery, ['pull', 'push', 'both'] as const),
    notifications: oneOf('--notifications', o.notifications, ['con', 'non'] as const),
    rebootDelayMs: parseDuration(o.rebootTime, '--reboot-time'),
    ...(o.queueWindow !== undefined ? { queueWindowMs: parseDuration(o.queueWindow, '--queue-window') } : {}),
    ...(Object.keys(faults).length > 0 ? { faults } : {}),
    ...(o.faultRate !== undefined ? { faultRate: parseProbability(o.faultRate, '--fault-rate') } : {}),
    seed: parseIntOption('--seed', o.seed, 0, 0xffffffff),
    ...(o.host !== undefined ? { host: o.host } : {}),
  };
}

const STATE_NAMES = ['Idle', 'Downloading', 'Downloaded', 'Updating'];

/** One line for an event, or undefined for events not worth a line. */
export function describeEvent(name: DeviceEventName, e: DeviceEvent<DeviceEventName>, verbose: boolean): string | undefined {
  const x = e as unknown as Record<string, unknown>;
  switch (name) {
    case 'registered':
      return `registered id=${x.registrationId} version=${x.firmwareVersion} port=${x.port}`;
    case 'registrationFailed':
      return `registration failed: ${x.reason} (retry in ${x.retryInMs} ms)`;
    case 'deregistered':
      return 'de-registered';
    case 'stateChanged':
      return `state ${x.state} (${STATE_NAMES[x.state as number] ?? '?'}) result ${x.result}`;
    case 'downloadStarted':
      return `download started (${x.method}${x.uri ? ` ${x.uri}` : ''})`;
    case 'verified':
      return `manifest verified: sequence ${x.sequenceNumber}, version ${x.version}, signed by ${(x.signers as string[]).join(', ')}`;
    case 'rejected':
      return `rejected: result ${x.result}${x.code ? ` ${x.code}` : ''}: ${x.reason}`;
    case 'downloaded':
      return `downloaded ${x.size} bytes, version ${x.version}`;
    case 'updating':
      return `updating ${x.from} -> ${x.to}`;
    case 'rebooting':
      return `rebooting (${x.reason})`;
    case 'rebooted':
      return `rebooted on ${x.firmwareVersion}${x.fellBack ? ' (fell back to the old slot)' : ''}`;
    case 'updated':
      return `updated ${x.from} -> ${x.to} (sequence ${x.sequenceNumber})`;
    case 'updateFailed':
      return `update failed: result ${x.result}: ${x.reason}; running ${x.firmwareVersion}`;
    case 'cancelled':
      return 'download cancelled';
    case 'writeRefused':
      return `refused a write to ${x.resource === 'package' ? '/5/0/0' : '/5/0/1'} with ${x.code} in state ${x.state}`;
    case 'faultInjected':
      return `fault: ${x.fault}`;
    case 'asleep':
    case 'awake':
    case 'registrationUpdated':
    case 'notified':
      return verbose ? name : undefined;
    case 'blockReceived':
      return verbose ? `block ${x.num} (${x.what}, ${x.bytes} bytes)` : undefined;
    case 'warning':
      return verbose ? `warning: ${x.message}` : undefined;
  }
}


export function register(program: Command): void {
  program
    .command('simulate')
    .description('run emulated LwM2M devices (objects /1 /3 /5, SUIT verification, A/B slots, faults) against any LwM2M server')
    .requiredOption('--server <uri>', 'LwM2M server, e.g. coap://[::1]:5683')
    .requiredOption('--endpoint <name>', 'endpoint name (with --count > 1: prefix of <prefix>-0000 …)')
    .option('--count <n>', 'number of devices, each with its own socket', '1')
    .option('--trust <pem...>', 'trusted public key file(s) (PEM or COSE_Key) the devices verify signatures with')
    .option('--vendor-domain <domain>', 'vendor domain: vendor ID = UUIDv5(DNS, domain)')
    .option('--class-name <name>', 'class name: class ID = UUIDv5(vendor ID, name)')
    .option('--fw-version <version>', 'running firmware version (/3/0/3)', '1.0.0')
    .option('--sequence <n>', 'SUIT sequence number of the running firmware', '0')
    .option('--lwm2m <version>', 'LwM2M version: 1.0, 1.1 or 1.2', '1.1')
    .option('--binding <b>', 'U, or UQ for queue mode', 'U')
    .option('--block-size <n>', 'block size for downloads and pushes (16..1024)', '256')
    .option('--lifetime <s>', 'registration lifetime in seconds', '300')
    .option('--flash-size <bytes>', 'capacity of one flash slot (e.g. 256k, 1M)', '1M')
    .option('--delivery <method>', 'pull, push or both (/5/0/9)', 'both')
    .option('--raw', 'devices take raw images instead of SUIT envelopes')
    .option('--raw-digest <hex>', 'with --raw: the SHA-256 the image must have')
    .option('--fault <spec...>', 'faults to inject (see below)')
    .option('--fault-rate <p>', 'share of devices that get the faults (e.g. 10%)')
    .option('--seed <n>', 'seed for fault selection and packet drops', '1')
    .option('--reboot-time <duration>', 'how long a reboot keeps a device silent', '1s')
    .option('--queue-window <duration>', 'queue mode: how long a device stays awake after a contact', '93s')
    .option('--notifications <type>', 'con or non', 'con')
    .option('--host <address>', 'local address to bind (default :: or 0.0.0.0 to match the server)')
    .option('--json', 'print one JSON object per event and line')
    .option('--verbose', 'also print blocks, notifications, sleeps and registration updates')
    .addHelpText('after', FAULT_HELP)
    .action(
      action(async (o: SimulateOptions) => {
        const options = simulateOptions(o);
        const fleet = await createFleet(options);
        const tty = process.stdout.isTTY === true && !o.json;
        const color = (name: DeviceEventName, s: string): string => {
          if (!tty) return s;
          if (name === 'rejected' || name === 'updateFailed' || name === 'registrationFailed' || name === 'faultInjected') return `\x1b[31m${s}\x1b[0m`;
          if (name === 'updated' || name === 'registered') return `\x1b[32m${s}\x1b[0m`;
          return s;
        };
        const stats = { updated: 0, failed: 0 };
        for (const name of DEVICE_EVENT_NAMES) {
          fleet.on(name, (e) => {
            if (name === 'updated') stats.updated++;
            if (name === 'updateFailed' || name === 'rejected') stats.failed++;
            if (o.json) {
              if (describeEvent(name, e, o.verbose === true) !== undefined) process.stdout.write(JSON.stringify({ time: new Date().toISOString(), event: name, ...e }) + '\n');
              return;
            }
            const line = describeEvent(name, e, o.verbose === true);
            if (line !== undefined) process.stdout.write(`${new Date().toISOString()} ${e.endpoint} ${color(name, line)}\n`);
          });
        }
        if (!o.json) {
          const f = options.faults ? formatFaultSpec(options.faults) : '';
          process.stdout.write(
            `simulating ${options.count} device(s) against ${options.server}` +
              (f ? `, faults ${f}${options.faultRate !== undefined ? ` on ${fleet.faulty.size}` : ''}` : '') +
              '; Ctrl-C stops and de-registers\n',
          );
        }
        let stopping: Promise<void> | undefined;
        const stop = (): Promise<void> => {
          if (!stopping) {
            stopping = fleet.stop().then(() => {
              if (!o.json) process.stdout.write(`stopped: ${stats.updated} updated, ${stats.failed} failed or rejected\n`);
            });
          }
          return stopping;
        };
        await new Promise<void>((resolve) => {
          const onSignal = (): void => {
            // The first signal stops the fleet and de-registers it. The handlers go at once,
            // so a second Ctrl-C ends the process Node's default way (status 130 in the
            // shell) without waiting for the de-registrations.
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
            void stop().then(resolve);
          };
          process.on('SIGINT', onSignal);
          process.on('SIGTERM', onSignal);
          void fleet.start().catch((err: unknown) => {
            process.stderr.write(`lwm2m-fota: ${(err as Error).message}\n`);
          });
        });
      }),
    );
}

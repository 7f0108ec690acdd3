/**
 * `lwm2m-fota firmware add|list|show|remove`: the firmware repository of a running server,
 * over the REST API. `add` uploads the image first (PUT /api/firmware/images/<sha256>,
 * raw bytes) and then the envelope (POST /api/firmware), which the server verifies against
 * its trust policy before it accepts anything.
 */
import { createHash } from 'node:crypto';
import type { Command } from 'commander';
import { FIRMWARE_ID_MIN_PREFIX, isFirmwareIdOrPrefix, type FirmwareListView, type FirmwareRemovedView, type FirmwareView as FirmwareRecord } from '../../index';
import { ApiClient, connectionOptions, type ServerConnectionOptions } from '../client';
import { action, printJson, usageError } from '../run';
import { readInput } from './keys';

interface JsonOption extends ServerConnectionOptions {
  json?: boolean;
}

interface AddOptions extends JsonOption {
  image?: string;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

function describe(r: FirmwareRecord): string {
  const lines: Array<[string, string]> = [
    ['id', r.id],
    ['uri', r.uri],
    ['version', r.version ?? '-'],
    ['sequence', String(r.sequenceNumber)],
    ['vendor', r.vendorId ?? '-'],
    ['class', r.classId ?? '-'],
    ['size', `${r.size} bytes`],
  ];
  if (r.description !== null) lines.push(['description', r.description]);
  for (const i of r.images) {
    const what = i.digest === null ? 'no digest' : `sha-256:${i.digest}${i.size === null ? '' : ` (${i.size} bytes)`}`;
    lines.push([`image ${i.component}`, `${what}, ${i.location}${i.uri === null ? '' : ` ${i.uri}`}${i.stored ? ', stored' : ''}`]);
  }
  lines.push(['payload', r.payload === null ? '- (not stored: payload-only delivery unavailable)' : r.payload.uri]);
  lines.push(['signers', r.signers.join(', ')]);
  lines.push(['added', r.addedAt]);
  const w = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}

/**
 * The firmware `idOrPrefix` names. The server resolves a unique prefix (`GET
 * /api/firmware/<prefix>`), as it does for `update --firmware`, so both take the same ids:
 * no firmware → ERR_FOTA_FIRMWARE_NOT_FOUND, several → ERR_FOTA_FIRMWARE_AMBIGUOUS.
 */
async function fetchFirmware(client: ApiClient, idOrPrefix: string): Promise<FirmwareRecord> {
  const p = idOrPrefix.toLowerCase();
  if (!isFirmwareIdOrPrefix(p)) throw usageError(`a firmware id is its SHA-256 (64 hex digits) or a prefix of at least ${FIRMWARE_ID_MIN_PREFIX}, got "${idOrPrefix}"`);
  return client.get<FirmwareRecord>(`/api/firmware/${p}`);
}

export function register(program: Command): void {
  const firmware = program.command('firmware').description('the firmware repository of a running server (SUIT envelopes, verified on add)');

  connectionOptions(
    firmware
      .command('add')
      .description('add a signed SUIT envelope; the server verifies it against its trust policy first')
      .argument('<envelope>', 'SUIT envelope file'),
  )
    .option('--image <file>', 'the firmware image, when the manifest fetches it from this server (/fw/<sha256>) or for payload-only delivery')
    .option('--json', 'print the firmware record as JSON, with "added": false when it was there already')
    .action(
      action(async (file: string, opts: AddOptions) => {
        const envelope = readInput(file);
        const image = opts.image === undefined ? undefined : readInput(opts.image);
        const client = new ApiClient(opts);
        if (image !== undefined) {
          const digest = createHash('sha256').update(image).digest('hex');
          await client.call('PUT', `/api/firmware/images/${digest}`, image);
        }
        // 201: new in the repository; 200: the same envelope was there already (nothing changed).
        const { status, body: record } = await client.exchange<FirmwareRecord>('POST', '/api/firmware', envelope);
        const added = status === 201;
        if (opts.json) return printJson({ ...record, added });
        process.stdout.write(`${added ? 'added' : 'already present'} ${record.id}\n` + describe(record));
      }),
    );

  connectionOptions(firmware.command('list').description('list the firmware in the repository'))
    .option('--json', 'print JSON (an array of firmware records)')
    .action(
      action(async (opts: JsonOption) => {
        const { firmware: list } = await new ApiClient(opts).get<FirmwareListView>('/api/firmware');
        if (opts.json) return printJson(list);
        if (list.length === 0) {
          process.stdout.write('no firmware\n');
          return;
        }
        const rows = [['ID', 'VERSION', 'SEQUENCE', 'CLASS', 'SIZE', 'IMAGE', 'ADDED']];
        for (const f of list) {
          const img = f.images[0];
          const image = img === undefined ? '-' : `${img.location}${img.stored ? ` ${img.size ?? '?'} B` : ''}`;
          rows.push([f.id, f.version ?? '-', String(f.sequenceNumber), f.classId ?? '-', String(f.size), image, f.addedAt]);
        }
        process.stdout.write(table(rows));
      }),
    );

  connectionOptions(firmware.command('show').description('show one firmware').argument('<id>', 'firmware id (or a unique prefix)'))
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, opts: JsonOption) => {
        const client = new ApiClient(opts);
        const record = await fetchFirmware(client, id);
        if (opts.json) return printJson(record);
        process.stdout.write(describe(record));
      }),
    );

  connectionOptions(firmware.command('remove').description('remove a firmware (refused while an update job uses it)').argument('<id>', 'firmware id (or a unique prefix)'))
    .option('--json', 'print the removed record as JSON')
    .action(
      action(async (id: string, opts: JsonOption) => {
        const client = new ApiClient(opts);
        // Removal takes the whole id: the prefix is resolved first, then that one firmware goes.
        const { id: whole } = await fetchFirmware(client, id);
        const { removed } = await client.call<FirmwareRemovedView>('DELETE', `/api/firmware/${whole}`);
        if (opts.json) return printJson(removed);
        process.stdout.write(`removed ${removed.id}\n`);
      }),
    );
}

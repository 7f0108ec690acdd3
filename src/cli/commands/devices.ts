import type { Command } from 'commander';
import type { DeviceView } from '../../index';
import { ApiClient, connectionOptions, type ServerConnectionOptions } from '../client';
import { action, printJson } from '../run';

interface JsonOption extends ServerConnectionOptions {
  json?: boolean;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

function addr(d: DeviceView): string {
  return d.address.includes(':') ? `[${d.address}]:${d.port}` : `${d.address}:${d.port}`;
}

/** /3/0/3 as the server last read it; '-' when not known (yet). */
function firmwareText(d: DeviceView): string {
  return d.firmwareVersion ?? '-';
}

export function register(program: Command): void {
  const devices = program.command('devices').description('registered devices of a running server');

  connectionOptions(devices.command('list').description('list registered devices'))
    .option('--json', 'print JSON: { "devices": [ … ] }, the same document as GET /api/devices')
    .action(
      action(async (opts: JsonOption) => {
        const answer = await new ApiClient(opts).get<{ devices: DeviceView[] }>('/api/devices');
        // One schema for the CLI and REST: an object, so that fields (paging) can join the list.
        if (opts.json) return printJson(answer);
        const list = answer.devices;
        if (list.length === 0) {
          process.stdout.write('no registered devices\n');
          return;
        }
        const rows = [['ENDPOINT', 'ADDRESS', 'LWM2M', 'BINDING', 'LIFETIME', 'LAST SEEN', 'FIRMWARE', 'OBJECTS']];
        for (const d of list) rows.push([d.endpoint, addr(d), d.lwm2mVersion, d.binding, `${d.lifetime}s`, ago(d.lastSeen), firmwareText(d), d.objectLinks.join(',')]);
        process.stdout.write(table(rows));
      }),
    );

  connectionOptions(devices.command('show').description('show one registered device').argument('<endpoint>', 'the device (its LwM2M endpoint name)'))
    .option('--json', 'print JSON')
    .action(
      action(async (endpoint: string, opts: JsonOption) => {
        const d = await new ApiClient(opts).get<DeviceView>(`/api/devices/${encodeURIComponent(endpoint)}`);
        if (opts.json) return printJson(d);
        const lines: Array<[string, string]> = [
          ['endpoint', d.endpoint],
          ['registration', d.registrationId],
          ['address', addr(d)],
          ['lwm2m', d.lwm2mVersion],
          ['binding', `${d.binding}${d.queueMode ? ' (queue mode)' : ''}`],
          ['lifetime', `${d.lifetime}s (expires ${d.expiresAt})`],
          ['registered', d.registeredAt],
          ['last seen', `${d.lastSeen} (${ago(d.lastSeen)})`],
          ['firmware', firmwareText(d)],
          ['root path', d.rootPath],
          ['objects', d.objectLinks.join(' ')],
        ];
        if (d.supportedContentFormats.length > 0) lines.push(['formats', d.supportedContentFormats.join(' ')]);
        const w = Math.max(...lines.map(([k]) => k.length));
        process.stdout.write(lines.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n');
      }),
    );
}

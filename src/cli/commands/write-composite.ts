import type { Command } from 'commander';
import { action, usageError } from '../run';
import { compositeUrl } from './composite-common';
import { callDevice, checkPath, codeText, deviceOptions, type DeviceCommandOptions } from './device-common';
import { writeBody } from './write';

/**
 * The `entries` of a Write-Composite from `path=value` arguments (each value as `write`
 * takes it: text typed by the model, `hex:` for opaque, JSON for a multiple resource), or
 * from one JSON argument: `[{"path": "/1/0/1", "value": 300}, …]` or `{"entries": […]}`.
 */
export function compositeEntries(args: readonly string[]): unknown[] {
  const first = args[0]?.trim() ?? '';
  if (args.length === 1 && (first.startsWith('[') || first.startsWith('{'))) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(first);
    } catch (err) {
      throw usageError(`the entries look like JSON but do not parse: ${(err as Error).message}`);
    }
    const entries = Array.isArray(parsed) ? parsed : (parsed as { entries?: unknown } | null)?.entries;
    if (!Array.isArray(entries) || entries.length === 0) throw usageError('JSON entries are [{"path": "/1/0/1", "value": 300}, …] or {"entries": […]}');
    return entries;
  }
  return args.map((arg) => {
    const eq = arg.indexOf('=');
    if (eq < 0) throw usageError(`"${arg}" is not path=value (e.g. /1/0/1=300)`);
    const path = checkPath(arg.slice(0, eq), [3, 4]);
    return { path, ...(writeBody(path, arg.slice(eq + 1)) as Record<string, unknown>) };
  });
}

/** Write-Composite (LwM2M 1.1+): values of several resources in one request (REST `POST …/composite`). */
export function register(program: Command): void {
  deviceOptions(
    program
      .command('write-composite')
      .description('write several resources in one request (Write-Composite, LwM2M 1.1+)')
      .argument('<endpoint>')
      .argument('<entry...>', 'path=value (e.g. /1/0/1=300 /1/0/2=10), or one JSON list [{"path":"/1/0/1","value":300}]'),
    true,
  )
    .addHelpText('after', "\nExamples:\n  lwm2m-fota write-composite sensor-1 /1/0/1=300 /1/0/2=10\n  lwm2m-fota write-composite sensor-1 '[{\"path\":\"/1/0/1\",\"value\":300}]'\n")
    .action(
      action(async (endpoint: string, args: string[], opts: DeviceCommandOptions) => {
        const entries = compositeEntries(args);
        await callDevice(opts, 'POST', compositeUrl(endpoint, '', [], opts.format), { entries }, (a) =>
          `${entries.map((e) => (e as { path?: unknown }).path).join(' ')}  ${codeText(a.code)}${a.formatName ? ` (${a.formatName})` : ''}\n`,
        );
      }),
    );
}

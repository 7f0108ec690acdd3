import type { Command } from 'commander';
import { action, usageError } from '../run';
import { callDevice, checkPath, codeText, deviceOptions, deviceUrl, type DeviceCommandOptions } from './device-common';

interface WriteOptions extends DeviceCommandOptions {
  type?: string;
  update?: boolean;
}

const TYPES = ['integer', 'unsigned', 'float', 'boolean', 'string', 'opaque', 'time', 'objlnk', 'corelnk'];

/**
 * The JSON body for `value`: JSON objects and arrays as they are (an instance's resources
 * `{"1":300}`, a multiple resource's instances); `hex:cafe` for opaque bytes; anything
 * else is the text of one value, which the server types by the model (or `--type`).
 */
export function writeBody(path: string, value: string, type?: string): unknown {
  const depth = path.split('/').length - 1;
  const t = value.trim();
  if (t.startsWith('{') || t.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(t);
    } catch (err) {
      throw usageError(`the value looks like JSON but does not parse: ${(err as Error).message}`);
    }
    if (depth === 2) return { resources: parsed };
    if (depth === 3) return { ...(type ? { type } : {}), instances: parsed };
    throw usageError('a JSON value is for an object instance (/1/0) or a multiple resource (/3/0/6)');
  }
  if (depth < 3) throw usageError(`write a single value to a resource (e.g. /1/0/1), or give JSON for ${path}`);
  const v = value.startsWith('hex:') ? { hex: value.slice(4) } : value;
  return { ...(type ? { type } : {}), value: v };
}

export function register(program: Command): void {
  deviceOptions(
    program
      .command('write')
      .description('write a value (replace), or with --update a partial update')
      .argument('<endpoint>', 'the device (its LwM2M endpoint name)')
      .argument('<path>', 'e.g. /1/0/1, or /1/0 with a JSON value')
      .argument('<value>', 'the value, as text (hex:… for opaque) or JSON ({"1":300} for an instance)')
      .option('--type <type>', `value type for a resource the model does not know (${TYPES.join(', ')})`)
      .option('--update', 'partial update (POST) instead of replace (PUT)'),
    true,
  ).action(
    action(async (endpoint: string, path: string, value: string, opts: WriteOptions) => {
      checkPath(path, [2, 3, 4]);
      if (opts.type !== undefined && !TYPES.includes(opts.type)) throw usageError(`--type must be one of ${TYPES.join(', ')}`);
      await callDevice(opts, opts.update ? 'POST' : 'PUT', deviceUrl(endpoint, path, opts.format), writeBody(path, value, opts.type), (a) =>
        `${a.path ?? path}  ${codeText(a.code)}${a.formatName ? ` (${a.formatName})` : ''}\n`,
      );
    }),
  );
}

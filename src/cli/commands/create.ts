import type { Command } from 'commander';
import { action, parseIntOption, usageError } from '../run';
import { callDevice, checkPath, codeText, deviceOptions, deviceUrl, type DeviceCommandOptions } from './device-common';

interface CreateOptions extends DeviceCommandOptions {
  id?: string;
}

export function register(program: Command): void {
  deviceOptions(
    program
      .command('create')
      .description('create an object instance')
      .argument('<endpoint>', 'the device (its LwM2M endpoint name)')
      .argument('<path>', 'the object, e.g. /1')
      .argument('<resources>', 'the resources as JSON, e.g. \'{"0":2,"1":60,"6":false,"7":"U"}\'')
      .option('--id <instance>', 'instance id (default: the device chooses; needs TLV)'),
    true,
  ).action(
    action(async (endpoint: string, path: string, resources: string, opts: CreateOptions) => {
      checkPath(path, [1]);
      let parsed: unknown;
      try {
        parsed = JSON.parse(resources);
      } catch (err) {
        throw usageError(`<resources> must be JSON: ${(err as Error).message}`);
      }
      const body = { ...(opts.id === undefined ? {} : { id: parseIntOption('--id', opts.id, 0, 65534) }), resources: parsed };
      await callDevice(opts, 'POST', deviceUrl(endpoint, path, opts.format), body, (a) => `${a.location ?? path}  ${codeText(a.code)}\n`);
    }),
  );
}

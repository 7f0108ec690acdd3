import type { Command } from 'commander';
import { action } from '../run';
import { callDevice, checkPath, deviceOptions, deviceUrl, type DeviceCommandOptions } from './device-common';

export function register(program: Command): void {
  deviceOptions(
    program.command('discover').description('list what an object, instance or resource holds, with its attributes').argument('<endpoint>', 'the device (its LwM2M endpoint name)').argument('<path>', 'an object, instance or resource, e.g. /3/0'),
    false,
  ).action(
    action(async (endpoint: string, path: string, opts: DeviceCommandOptions) => {
      await callDevice(opts, 'GET', deviceUrl(endpoint, `${checkPath(path, [1, 2, 3])}/discover`), undefined, (a) =>
        (a.links ?? [])
          .map((l) => {
            const attrs = Object.entries(l.attributes).map(([k, v]) => (v === true ? k : `${k}=${v}`));
            return `<${l.uri}>${attrs.map((x) => `;${x}`).join('')}`;
          })
          .join('\n') + '\n',
      );
    }),
  );
}

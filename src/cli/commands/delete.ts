import type { Command } from 'commander';
import { action } from '../run';
import { callDevice, checkPath, codeText, deviceOptions, deviceUrl, type DeviceCommandOptions } from './device-common';

export function register(program: Command): void {
  deviceOptions(
    program.command('delete').description('delete an object instance').argument('<endpoint>', 'the device (its LwM2M endpoint name)').argument('<path>', 'the instance, e.g. /1/1'),
    false,
  ).action(
    action(async (endpoint: string, path: string, opts: DeviceCommandOptions) => {
      await callDevice(opts, 'DELETE', deviceUrl(endpoint, checkPath(path, [2])), undefined, (a) => `${a.path ?? path}  ${codeText(a.code)}\n`);
    }),
  );
}

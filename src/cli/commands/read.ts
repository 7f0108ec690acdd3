import type { Command } from 'commander';
import { action } from '../run';
import { callDevice, checkPath, deviceOptions, deviceUrl, renderNode, statusLine, type DeviceCommandOptions } from './device-common';

export function register(program: Command): void {
  deviceOptions(
    program.command('read').description('read an object, instance, resource or resource instance of a device').argument('<endpoint>', 'the device (its LwM2M endpoint name)').argument('<path>', 'e.g. /3/0 or /3/0/9'),
    true,
  ).action(
    action(async (endpoint: string, path: string, opts: DeviceCommandOptions) => {
      await callDevice(opts, 'GET', deviceUrl(endpoint, checkPath(path), opts.format), undefined, (a) =>
        [`${a.path ?? path}  ${statusLine(a)}`, ...(a.content ? renderNode(a.content, '') : [])].join('\n') + '\n',
      );
    }),
  );
}

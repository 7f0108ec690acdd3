import type { Command } from 'commander';
import { action } from '../run';
import { compositeUrl } from './composite-common';
import { callDevice, deviceOptions, renderNode, statusLine, type DeviceCommandOptions } from './device-common';

/** Read-Composite (LwM2M 1.1+): several paths, of any objects, in one request (REST `GET …/composite?paths=`). */
export function register(program: Command): void {
  deviceOptions(
    program
      .command('read-composite')
      .description('read several paths in one request (Read-Composite, LwM2M 1.1+)')
      .argument('<endpoint>')
      .argument('<path...>', 'e.g. /3/0/9 /1/0/1'),
    true,
  )
    .addHelpText('after', '\nExample:\n  lwm2m-fota read-composite sensor-1 /3/0/9 /1/0/1 --json\n')
    .action(
      action(async (endpoint: string, paths: string[], opts: DeviceCommandOptions) => {
        await callDevice(opts, 'GET', compositeUrl(endpoint, '', paths, opts.format), undefined, (a) =>
          [`${paths.join(' ')}  ${statusLine(a)}`, ...(a.entries ?? []).flatMap((e) => renderNode(e.content, '  '))].join('\n') + '\n',
        );
      }),
    );
}

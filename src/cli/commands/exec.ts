import type { Command } from 'commander';
import { action } from '../run';
import { callDevice, checkPath, codeText, deviceOptions, deviceUrl, type DeviceCommandOptions } from './device-common';

interface ExecOptions extends DeviceCommandOptions {
  args?: string;
}

export function register(program: Command): void {
  deviceOptions(
    program
      .command('exec')
      .description('execute a resource (e.g. /3/0/4 Reboot, /5/0/2 Update)')
      .argument('<endpoint>', 'the device (its LwM2M endpoint name)')
      .argument('<path>', 'an executable resource, e.g. /3/0/4')
      .option('--args <arguments>', "execute arguments, e.g. \"0='v1',1\""),
    false,
  ).action(
    action(async (endpoint: string, path: string, opts: ExecOptions) => {
      const body = opts.args === undefined ? undefined : { arguments: opts.args };
      await callDevice(opts, 'POST', deviceUrl(endpoint, checkPath(path, [3])), body, (a) => `${a.path ?? path}  ${codeText(a.code)}\n`);
    }),
  );
}

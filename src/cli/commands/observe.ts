import type { Command } from 'commander';
import { action } from '../run';
import { checkPath, deviceOptions, deviceUrl } from './device-common';
import { followObservation, type ObserveOptions } from './observation-stream';

/**
 * Observes a path and prints each notification until Ctrl-C (then cancels the observation
 * unless --keep). Notifications come from the server's event stream, which is opened
 * before the observation starts so that none is missed.
 */
export function register(program: Command): void {
  deviceOptions(
    program
      .command('observe')
      .description('observe a path and print notifications until Ctrl-C')
      .argument('<endpoint>', 'the device (its LwM2M endpoint name)')
      .argument('<path>', 'e.g. /3/0/9')
      .option('--keep', 'leave the observation running on exit'),
    true,
  ).action(
    action(async (endpoint: string, path: string, opts: ObserveOptions) => {
      checkPath(path);
      await followObservation(opts, endpoint, path, deviceUrl(endpoint, `${path}/observe`, opts.format));
    }),
  );
}

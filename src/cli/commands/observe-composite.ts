import type { Command } from 'commander';
import { action } from '../run';
import { compositeUrl } from './composite-common';
import { checkPath, deviceOptions } from './device-common';
import { followObservation, type ObserveOptions } from './observation-stream';

/**
 * Observe-Composite (LwM2M 1.1+): one observation of several paths; each notification
 * carries all of them. Prints until Ctrl-C, then cancels unless --keep, like `observe`.
 */
export function register(program: Command): void {
  deviceOptions(
    program
      .command('observe-composite')
      .description('observe several paths at once and print notifications until Ctrl-C (Observe-Composite, LwM2M 1.1+)')
      .argument('<endpoint>')
      .argument('<path...>', 'e.g. /3/0/9 /1/0/1')
      .option('--keep', 'leave the observation running on exit'),
    true,
  )
    .addHelpText('after', '\nExample:\n  lwm2m-fota observe-composite sensor-1 /3/0/9 /1/0/1 --json\n')
    .action(
      action(async (endpoint: string, paths: string[], opts: ObserveOptions) => {
        for (const p of paths) checkPath(p);
        await followObservation(opts, endpoint, paths.join(' '), compositeUrl(endpoint, '/observe', [], opts.format), { paths });
      }),
    );
}

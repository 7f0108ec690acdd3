/**
 * `lwm2m-fota cancel <endpoint> [--json]`: cancels the device's active update job (Cancel
 * /5/0/10 where the device has it, else an empty Package URI). Refused with
 * ERR_FOTA_CANCEL_TOO_LATE once Update was executed.
 */
import type { Command } from 'commander';
import type { UpdateJobView } from '../../index';
import { ApiClient, connectionOptions, type ServerConnectionOptions } from '../client';
import { action, printJson } from '../run';
import { updatePath } from '../follow';

interface CancelOptions extends ServerConnectionOptions {
  json?: boolean;
}

export function register(program: Command): void {
  connectionOptions(
    program
      .command('cancel')
      .argument('<endpoint>', 'the device (its LwM2M endpoint name)')
      .description("cancel a device's active firmware update (possible until Update is executed)")
      .option('--json', 'print the job as JSON'),
  ).action(
    action(async (endpoint: string, opts: CancelOptions) => {
      const job = await new ApiClient(opts).call<UpdateJobView>('DELETE', updatePath(endpoint));
      if (opts.json === true) printJson(job);
      else process.stdout.write(`${endpoint}: update ${job.id} ${job.state === 'cancelled' ? 'cancelled' : `${job.state} (the device confirms the cancel)`}\n`);
    }),
  );
}

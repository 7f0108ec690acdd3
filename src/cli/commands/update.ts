/**
 * `lwm2m-fota update <endpoint> --firmware <id> [--method pull|push] [--payload-only]
 * [--confirm firmwareVersion|pkgVersion|result] [--contact-timeout <s>]
 * [--wait [--timeout <s>]] [--json]`: starts an update job through the REST API; with --wait
 * follows the event stream (a live progress bar on a terminal, plain lines otherwise) until
 * the job ends, and exits non-zero unless it succeeded. `--timeout` bounds the wait only:
 * the job goes on on the server (see `status --follow`, `cancel`). The following itself is
 * src/cli/follow.ts, shared with `status --follow`.
 */
import type { Command } from 'commander';
import type { UpdateJobView } from '../../index';
import { ApiClient, connectionOptions, type ServerConnectionOptions } from '../client';
import { followJob, updatePath } from '../follow';
import { action, parseIntOption, printJson, usageError } from '../run';

export { describeOutcome, updatePath } from '../follow';

interface UpdateOptions extends ServerConnectionOptions {
  firmware: string;
  method?: string;
  payloadOnly?: boolean;
  confirm?: string;
  contactTimeout?: string;
  wait?: boolean;
  timeout?: string;
  json?: boolean;
}

export function register(program: Command): void {
  connectionOptions(
    program
      .command('update')
      .argument('<endpoint>', 'the device (its LwM2M endpoint name)')
      .description('update a device to a firmware of the repository (pull or push, chosen from /5/0/9 unless --method)')
      .requiredOption('--firmware <id>', 'firmware id (SHA-256 of the envelope, see `firmware list`) or a unique prefix of it')
      .option('--method <method>', 'pull (the device fetches /fw/<id>) or push (Block1 writes to /5/0/0)')
      .option('--payload-only', 'deliver the manifest’s payload alone (devices that take raw images)')
      .option('--confirm <check>', 'what confirms success: firmwareVersion (/3/0/3, default), pkgVersion (/5/0/7) or result (Update Result 1 alone)')
      .option('--contact-timeout <seconds>', 'how long to wait for a silent device before failing deviceUnreachable (0 = for ever; default: the server’s)')
      .option('--wait', 'follow the update until it ends; exit non-zero unless it succeeded')
      .option('--timeout <seconds>', 'with --wait: stop waiting after this long and exit non-zero (the update goes on)')
      .option('--json', 'print the job as JSON (with --wait: the final job)'),
  ).action(
    action(async (endpoint: string, opts: UpdateOptions) => {
      if (opts.method !== undefined && opts.method !== 'pull' && opts.method !== 'push') throw usageError(`--method must be pull or push, got "${opts.method}"`);
      if (opts.timeout !== undefined && opts.wait !== true) throw usageError('--timeout only applies with --wait');
      if (opts.confirm !== undefined && !['firmwareVersion', 'pkgVersion', 'result'].includes(opts.confirm)) {
        throw usageError(`--confirm must be firmwareVersion, pkgVersion or result, got "${opts.confirm}"`);
      }
      const contactTimeout = opts.contactTimeout === undefined ? undefined : parseIntOption('--contact-timeout', opts.contactTimeout, 0, 365 * 24 * 3600) * 1000;
      const timeoutMs = opts.timeout === undefined ? undefined : parseIntOption('--timeout', opts.timeout, 1, 7 * 24 * 3600) * 1000;
      const client = new ApiClient(opts);
      const body = {
        firmware: opts.firmware.toLowerCase(),
        ...(opts.method === undefined ? {} : { method: opts.method }),
        ...(opts.payloadOnly === true ? { payloadOnly: true } : {}),
        ...(opts.confirm === undefined ? {} : { confirm: opts.confirm }),
        ...(contactTimeout === undefined ? {} : { contactTimeout }),
      };
      if (opts.wait !== true) {
        const job = await client.call<UpdateJobView>('POST', updatePath(endpoint), body);
        if (opts.json === true) printJson(job);
        else process.stdout.write(`${endpoint}: update ${job.id} ${job.state} (firmware ${job.firmware.slice(0, 12)}…, version ${job.expectedVersion})\n`);
        return;
      }
      await followJob(client, endpoint, () => client.call<UpdateJobView>('POST', updatePath(endpoint), body), {
        json: opts.json === true,
        ...(timeoutMs === undefined ? {} : { timeoutMs, timeoutText: opts.timeout }),
      });
    }),
  );
}


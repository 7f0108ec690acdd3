/**
 * `lwm2m-fota status <endpoint> [--json] [--follow [--timeout <s>]]`: the device's current
 * (or last) update job — its phase, progress, outcome with the Update Result explained, and
 * its history with times. `--follow` follows the job as `update --wait` does (same bar, same
 * exit codes: the code is shared, src/cli/follow.ts), e.g. after a Ctrl-C.
 */
import type { Command } from 'commander';
import type { UpdateJobView } from '../../index';
import { ApiClient, connectionOptions, type ServerConnectionOptions } from '../client';
import { formatBytes, renderBar } from '../progress';
import { followJob, updatePath } from '../follow';
import { action, parseIntOption, printJson, usageError } from '../run';

interface StatusOptions extends ServerConnectionOptions {
  json?: boolean;
  follow?: boolean;
  timeout?: string;
}

const CONFIRM_TEXT: Readonly<Record<UpdateJobView['confirm'], string>> = {
  firmwareVersion: 'firmware version /3/0/3',
  pkgVersion: 'package version /5/0/7',
  result: 'Update Result 1 alone',
};

/** The job for humans: a few aligned lines, then the history. */
export function formatStatus(job: UpdateJobView): string {
  const rows: Array<[string, string]> = [
    ['endpoint', job.endpoint],
    ['job', job.id],
    ['firmware', `${job.firmware} (version ${job.expectedVersion})`],
    ['state', `${job.state}${job.method === null ? '' : ` (${job.method}${job.payloadOnly ? ', payload only' : ''})`} — ${job.phase}`],
    ['attempt', String(job.attempt)],
    ['confirm by', job.confirmedBy === null ? CONFIRM_TEXT[job.confirm] : `${CONFIRM_TEXT[job.confirmedBy]} (confirmed)`],
  ];
  if (job.contactTimeout !== null) rows.push(['contact wait', job.contactTimeout === 0 ? 'for ever' : `${job.contactTimeout / 1000} s`]);
  if (job.bytes !== null) {
    rows.push(['progress', job.total === null ? formatBytes(job.bytes) : `${renderBar(job.bytes / job.total, 20)} ${formatBytes(job.bytes)}/${formatBytes(job.total)}`]);
  }
  if (job.uri !== null) rows.push(['package uri', job.uri]);
  if (job.updateResult !== null) rows.push(['update result', String(job.updateResult)]);
  if (job.reason !== null) rows.push(['reason', job.reason]);
  if (job.explanation !== null) rows.push(['explanation', job.explanation]);
  rows.push(['device runs', job.version ?? 'unknown']);
  rows.push(['created', job.createdAt]);
  if (job.finishedAt !== null) rows.push(['finished', job.finishedAt]);
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`);
  lines.push('history:');
  for (const h of job.history) {
    const extra = [
      h.updateResult === undefined ? '' : `Update Result ${h.updateResult}`,
      h.explanation ?? '',
      h.note === undefined ? '' : `note: ${h.note}`,
    ].filter((x) => x !== '');
    lines.push(`  ${h.at}  #${h.attempt}  ${h.state.padEnd(10)}  ${h.input}${extra.length === 0 ? '' : ` — ${extra.join('; ')}`}`);
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  connectionOptions(
    program
      .command('status')
      .argument('<endpoint>', 'the device (its LwM2M endpoint name)')
      .description("a device's current or last firmware update: phase, progress, Update Result explained, history")
      .option('--follow', 'follow the update until it ends, as `update --wait` does; exit non-zero unless it succeeded')
      .option('--timeout <seconds>', 'with --follow: stop following after this long and exit non-zero (the update goes on)')
      .option('--json', 'print the job as JSON (with --follow: the final job)'),
  ).action(
    action(async (endpoint: string, opts: StatusOptions) => {
      if (opts.timeout !== undefined && opts.follow !== true) throw usageError('--timeout only applies with --follow');
      const timeoutMs = opts.timeout === undefined ? undefined : parseIntOption('--timeout', opts.timeout, 1, 7 * 24 * 3600) * 1000;
      const client = new ApiClient(opts);
      if (opts.follow === true) {
        await followJob(client, endpoint, () => client.get<UpdateJobView>(updatePath(endpoint)), {
          json: opts.json === true,
          ...(timeoutMs === undefined ? {} : { timeoutMs, timeoutText: opts.timeout }),
        });
        return;
      }
      const job = await client.get<UpdateJobView>(updatePath(endpoint));
      if (opts.json === true) printJson(job);
      else process.stdout.write(`${formatStatus(job)}\n`);
    }),
  );
}

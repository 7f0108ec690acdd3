/**
 * `lwm2m-fota status <endpoint> [--json]`: the device's current (or last) update job — its
 * phase, progress, outcome with the Update Result explained, and its history with times.
 */
import type { Command } from 'commander';
import type { UpdateJobView } from '../../index';
import { ApiClient, connectionOptions, type ServerConnectionOptions } from '../client';
import { formatBytes, renderBar } from '../progress';
import { action, printJson } from '../run';
import { updatePath } from './update';

interface StatusOptions extends ServerConnectionOptions {
  json?: boolean;
}

/** The job for humans: a few aligned lines, then the history. */
export function formatStatus(job: UpdateJobView): string {
  const rows: Array<[string, string]> = [
    ['endpoint', job.endpoint],
    ['job', job.id],
    ['firmware', `${job.firmware} (version ${job.expectedVersion})`],
    ['state', `${job.state}${job.method === null ? '' : ` (${job.method}${job.payloadOnly ? ', payload only' : ''})`} — ${job.phase}`],
    ['attempt', String(job.attempt)],
  ];
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
      .command('status <endpoint>')
      .description("a device's current or last firmware update: phase, progress, Update Result explained, history")
      .option('--json', 'print the job as JSON'),
  ).action(
    action(async (endpoint: string, opts: StatusOptions) => {
      const job = await new ApiClient(opts).get<UpdateJobView>(updatePath(endpoint));
      if (opts.json === true) printJson(job);
      else process.stdout.write(`${formatStatus(job)}\n`);
    }),
  );
}

import type { Command } from 'commander';
import { Lwm2mFotaError, type EventJson } from '../../index';
import { ApiClient } from '../client';
import { action } from '../run';
import {
  checkPath,
  codeText,
  deviceOptions,
  deviceUrl,
  readEventStream,
  renderNode,
  type AnswerJson,
  type DeviceCommandOptions,
  type QueuedJson,
} from './device-common';

interface ObserveOptions extends DeviceCommandOptions {
  keep?: boolean;
}

/** The events the stream below asks for. */
const STREAM_TYPES = ['notified', 'observationCancelled', 'requestCompleted', 'requestFailed'] as const;
type ObserveEvent = EventJson<(typeof STREAM_TYPES)[number]>;

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
      const client = new ApiClient(opts);
      const stream = await client.raw('GET', `/api/events?endpoint=${encodeURIComponent(endpoint)}&type=${STREAM_TYPES.join(',')}`, undefined, {
        accept: 'text/event-stream',
      });
      let observationId: string | undefined;
      let requestId: string | undefined;
      let finished: ((err?: Error) => void) | undefined;
      const done = new Promise<void>((resolve, reject) => {
        finished = (err) => (err ? reject(err) : resolve());
      });
      const print = (time: string, a: Partial<AnswerJson> & { code?: string }): void => {
        if (opts.json) {
          process.stdout.write(JSON.stringify({ time, observationId, ...a }) + '\n');
          return;
        }
        if (a.content) process.stdout.write(renderNode(a.content).map((l, i) => (i === 0 ? `${time} ${l}` : `${' '.repeat(time.length + 1)}${l}`)).join('\n') + '\n');
        else process.stdout.write(`${time} ${path} ${codeText(a.code ?? '')}\n`);
      };
      const started = (a: AnswerJson): void => {
        if (!a.success || a.observationId === undefined) {
          finished?.(new Lwm2mFotaError('ERR_LWM2M_ERROR_RESPONSE', `${endpoint} did not accept the observation of ${path}: ${codeText(a.code)}${a.diagnostic ? `: ${a.diagnostic}` : ''}`));
          return;
        }
        observationId = a.observationId;
        print(new Date().toISOString(), a);
      };
      const reading = readEventStream(stream, (e) => {
        let ev: ObserveEvent;
        try {
          ev = JSON.parse(e.data) as ObserveEvent;
        } catch {
          return;
        }
        if (ev.type === 'requestCompleted' || ev.type === 'requestFailed') {
          if (requestId === undefined || ev.data.requestId !== requestId) return;
          if (ev.type === 'requestCompleted') started({ ...ev.data.result, endpoint });
          else finished?.(new Lwm2mFotaError('ERR_LWM2M_NO_RESPONSE', `the queued observation of ${path} failed`));
          return;
        }
        if (observationId === undefined || ev.data.observationId !== observationId) return;
        if (ev.type === 'notified') print(ev.time, ev.data);
        else {
          process.stderr.write(`observation ended: ${ev.data.reason}\n`);
          observationId = undefined;
          finished?.();
        }
      });
      reading.done.then(() => finished?.(), (err: Error) => finished?.(err));

      const answer = await client.call<AnswerJson | QueuedJson>('POST', deviceUrl(endpoint, `${path}/observe`, opts.format));
      if ('queued' in answer && answer.queued) {
        requestId = answer.requestId;
        process.stderr.write(`${endpoint} is asleep: the observation starts when it next contacts the server (request ${requestId})\n`);
      } else {
        started(answer as AnswerJson);
      }

      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        const id = observationId;
        observationId = undefined;
        const cancel = id !== undefined && opts.keep !== true
          ? client.call('DELETE', deviceUrl(endpoint, `/observations/${id}`)).catch(() => undefined)
          : Promise.resolve();
        void cancel.then(() => {
          reading.cancel();
          finished?.();
        });
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      try {
        await done;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        reading.cancel();
      }
    }),
  );
}

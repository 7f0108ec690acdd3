/**
 * What `observe` and `observe-composite` share: open the event stream first (so that no
 * notification is missed), start the observation, print each notification until Ctrl-C
 * (or the device ends it), then cancel it unless `--keep`.
 */
import { Lwm2mFotaError, type EventJson } from '../../index';
import { ApiClient } from '../client';
import { codeText, deviceUrl, readEventStream, renderNode, type AnswerJson, type DeviceCommandOptions, type NodeJson, type QueuedJson } from './device-common';

export interface ObserveOptions extends DeviceCommandOptions {
  keep?: boolean;
}

/** The events the stream below asks for. */
const STREAM_TYPES = ['notified', 'observationCancelled', 'requestCompleted', 'requestFailed'] as const;
type ObserveEvent = EventJson<(typeof STREAM_TYPES)[number]>;

/** A notification or first answer as lines: the node, or each composite entry's node. */
function lines(a: { content?: NodeJson; entries?: Array<{ path: string; content: NodeJson }> }): string[] | undefined {
  if (a.content) return renderNode(a.content);
  if (a.entries) return a.entries.flatMap((e) => renderNode(e.content));
  return undefined;
}

/**
 * Starts an observation with `POST <start>` (body `body`) and prints notifications until
 * SIGINT/SIGTERM, the end of the observation or of the stream. `label` names what is
 * observed in messages ("/3/0/9", "/3/0/9 /1/0/1").
 *
 * @throws Lwm2mFotaError ERR_LWM2M_ERROR_RESPONSE when the device refuses the observation,
 *   ERR_LWM2M_NO_RESPONSE when a queued one fails, the API client's errors.
 */
export async function followObservation(opts: ObserveOptions, endpoint: string, label: string, start: string, body?: unknown): Promise<void> {
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
    const l = lines(a);
    if (l) process.stdout.write(l.map((x, i) => (i === 0 ? `${time} ${x}` : `${' '.repeat(time.length + 1)}${x}`)).join('\n') + '\n');
    else process.stdout.write(`${time} ${label} ${codeText(a.code ?? '')}\n`);
  };
  const started = (a: AnswerJson): void => {
    if (!a.success || a.observationId === undefined) {
      finished?.(new Lwm2mFotaError('ERR_LWM2M_ERROR_RESPONSE', `${endpoint} did not accept the observation of ${label}: ${codeText(a.code)}${a.diagnostic ? `: ${a.diagnostic}` : ''}`));
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
      else finished?.(new Lwm2mFotaError('ERR_LWM2M_NO_RESPONSE', `the queued observation of ${label} failed`));
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

  const answer = await client.call<AnswerJson | QueuedJson>('POST', start, body);
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
    const cancel = id !== undefined && opts.keep !== true ? client.call('DELETE', deviceUrl(endpoint, `/observations/${id}`)).catch(() => undefined) : Promise.resolve();
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
}

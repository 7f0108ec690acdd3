/**
 * What the device-management commands (read, write, exec, create, delete, discover,
 * attributes, observe) share: the REST paths, printing an answer, waiting for a queued
 * request, and reading the event stream.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { Lwm2mFotaError, parseFormat } from '../../index';
import { ApiClient, connectionOptions, type ServerConnectionOptions } from '../client';
import { printJson, usageError } from '../run';

export interface DeviceCommandOptions extends ServerConnectionOptions {
  json?: boolean;
  format?: string;
  wait?: boolean;
}

/** The answer JSON of the REST API (see src/lwm2m/server/requests/json.ts). */
export interface AnswerJson {
  endpoint: string;
  operation: string;
  code: string;
  success: boolean;
  diagnostic?: string;
  path?: string;
  format?: number;
  formatName?: string;
  content?: NodeJson;
  entries?: Array<{ path: string; content: NodeJson }>;
  links?: Array<{ uri: string; path?: string; attributes: Record<string, string | true> }>;
  location?: string;
  observationId?: string;
  fallback?: string;
}

export interface QueuedJson {
  endpoint: string;
  queued: true;
  requestId: string;
  request: { id: string; state: string; result?: Record<string, unknown>; error?: { code: string; message: string } };
}

export interface NodeJson {
  kind: string;
  path: string;
  id: number;
  name?: string;
  type?: string;
  value?: unknown;
  instances?: Record<string, unknown> | NodeJson[];
  resources?: NodeJson[];
}

const CODE_NAMES: Record<string, string> = {
  '2.01': 'Created',
  '2.02': 'Deleted',
  '2.04': 'Changed',
  '2.05': 'Content',
  '4.00': 'Bad Request',
  '4.01': 'Unauthorized',
  '4.03': 'Forbidden',
  '4.04': 'Not Found',
  '4.05': 'Method Not Allowed',
  '4.06': 'Not Acceptable',
  '4.08': 'Request Entity Incomplete',
  '4.09': 'Conflict',
  '4.12': 'Precondition Failed',
  '4.13': 'Request Entity Too Large',
  '4.15': 'Unsupported Content-Format',
  '5.00': 'Internal Server Error',
  '5.01': 'Not Implemented',
  '5.03': 'Service Unavailable',
  '5.04': 'Gateway Timeout',
};

export function codeText(code: string): string {
  const name = CODE_NAMES[code];
  return name === undefined ? code : `${code} ${name}`;
}

/** Checks an LwM2M path argument ("/3/0/9"); the server validates it against the model. */
export function checkPath(path: string, levels: readonly number[] = [1, 2, 3, 4]): string {
  if (!/^(\/(0|[1-9]\d{0,4})){1,4}$/.test(path)) throw usageError(`"${path}" is not an LwM2M path such as /3/0 or /3/0/9`);
  const depth = path.split('/').length - 1;
  if (!levels.includes(depth)) throw usageError(`"${path}" has ${depth} level(s); this command takes ${levels.join(' or ')}`);
  return path;
}

export function deviceUrl(endpoint: string, rest: string, format?: string): string {
  const q = format === undefined ? '' : `?format=${encodeURIComponent(format)}`;
  return `/api/devices/${encodeURIComponent(endpoint)}${rest}${q}`;
}

/** `--server`, `--data-dir`, `--json` and (optionally) `--format`, `--wait`. */
export function deviceOptions(cmd: Command, withFormat: boolean): Command {
  connectionOptions(cmd).option('--json', 'print the answer as JSON').option('--wait', 'when the device is asleep, wait for the queued request to be answered');
  if (withFormat) cmd.option('--format <format>', 'content format: tlv, senml-json, senml-cbor, lwm2m-cbor, lwm2m-json, text, cbor, opaque or a number', checkFormat);
  return cmd;
}

/**
 * `--format`'s value, checked here (a usage error, exit 2) rather than by the server (a
 * 400, exit 1); the text goes on as typed, the server maps it to its number again.
 */
export function checkFormat(value: string): string {
  try {
    parseFormat(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
}

/** Polls a queued request until it is finished. */
async function waitFor(client: ApiClient, endpoint: string, requestId: string): Promise<QueuedJson['request']> {
  for (;;) {
    const r = await client.get<QueuedJson['request']>(deviceUrl(endpoint, `/requests/${encodeURIComponent(requestId)}`));
    if (r.state === 'completed' || r.state === 'failed' || r.state === 'cancelled') return r;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Sends one request and prints the answer: `render` for people, the JSON with `--json`.
 * A device's error code prints (and with `--json`, the JSON too) and exits 1 with
 * ERR_LWM2M_ERROR_RESPONSE. A queued request prints its id (or, with `--wait`, its result).
 */
export async function callDevice(
  opts: DeviceCommandOptions,
  method: string,
  url: string,
  body: unknown,
  render: (a: AnswerJson) => string,
): Promise<AnswerJson | undefined> {
  const client = new ApiClient(opts);
  let answer = await client.call<AnswerJson | QueuedJson>(method, url, body);
  if ('queued' in answer && answer.queued) {
    const endpoint = answer.endpoint;
    if (opts.wait !== true) {
      if (opts.json) printJson(answer);
      else process.stdout.write(`${endpoint} is asleep: request ${answer.requestId} queued; it goes out when the device next contacts the server\n`);
      return undefined;
    }
    const done = await waitFor(client, endpoint, answer.requestId);
    if (done.state !== 'completed' || done.result === undefined) {
      throw new Lwm2mFotaError((done.error?.code ?? 'ERR_LWM2M_NO_RESPONSE') as 'ERR_LWM2M_NO_RESPONSE', done.error?.message ?? `request ${done.id} ${done.state}`);
    }
    answer = { endpoint, ...(done.result as unknown as Omit<AnswerJson, 'endpoint'>) };
  }
  const a = answer as AnswerJson;
  if (opts.json) printJson(a);
  else if (a.success) process.stdout.write(render(a));
  if (!a.success) {
    const diag = a.diagnostic ? `: ${a.diagnostic}` : '';
    throw new Lwm2mFotaError('ERR_LWM2M_ERROR_RESPONSE', `${a.endpoint} answered ${codeText(a.code)} to ${a.operation}${a.path ? ` ${a.path}` : ''}${diag}`);
  }
  return a;
}

function valueText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A node as indented lines: `  0  Manufacturer  Acme`. */
export function renderNode(node: NodeJson, indent = ''): string[] {
  switch (node.kind) {
    case 'object':
      return [`${indent}${node.path}${node.name ? `  ${node.name}` : ''}`, ...((node.instances as NodeJson[]) ?? []).flatMap((i) => renderNode(i, indent + '  '))];
    case 'objectInstance': {
      const res = node.resources ?? [];
      const w = Math.max(0, ...res.map((r) => `${r.id}  ${r.name ?? ''}`.length));
      return [`${indent}${node.path}`, ...res.map((r) => `${indent}  ${`${r.id}  ${r.name ?? ''}`.padEnd(w)}  ${resourceValue(r)}`)];
    }
    default:
      return [`${indent}${node.path}${node.name ? `  ${node.name}` : ''}  ${resourceValue(node)}`];
  }
}

function resourceValue(r: NodeJson): string {
  if (r.kind === 'multipleResource') {
    return Object.entries((r.instances as Record<string, unknown>) ?? {})
      .map(([k, v]) => `[${k}]=${valueText(v)}`)
      .join(' ');
  }
  return valueText(r.value);
}

/** "2.05 Content (senml-cbor)" */
export function statusLine(a: AnswerJson): string {
  return `${codeText(a.code)}${a.formatName ? ` (${a.formatName}${a.fallback ? `, ${a.fallback}` : ''})` : ''}`;
}

/**
 * Reads a Server-Sent Events stream, calling `onEvent` for each event. `done` settles when
 * the stream ends; `cancel()` ends it (and frees the connection).
 */
export function readEventStream(
  res: Response,
  onEvent: (e: { id?: string; event?: string; data: string }) => void,
): { done: Promise<void>; cancel: () => void } {
  if (!res.ok || res.body === null) {
    return { done: Promise.reject(new Lwm2mFotaError('ERR_API_RESPONSE', `event stream answered ${res.status}`)), cancel: () => {} };
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let cur: { id?: string; event?: string; data: string[] } = { data: [] };
  let cancelled = false;
  const line = (l: string): void => {
    if (l === '') {
      if (cur.data.length > 0) onEvent({ ...(cur.id ? { id: cur.id } : {}), ...(cur.event ? { event: cur.event } : {}), data: cur.data.join('\n') });
      cur = { data: [] };
      return;
    }
    if (l.startsWith(':')) return;
    const i = l.indexOf(':');
    const field = i < 0 ? l : l.slice(0, i);
    const val = i < 0 ? '' : l.slice(i + 1).replace(/^ /, '');
    if (field === 'data') cur.data.push(val);
    else if (field === 'event') cur.event = val;
    else if (field === 'id') cur.id = val;
  };
  const done = (async () => {
    try {
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) return;
        buf += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const l = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          line(l);
        }
      }
    } catch (err) {
      if (cancelled) return;
      throw err;
    }
  })();
  return {
    done,
    cancel: () => {
      cancelled = true;
      void reader.cancel().catch(() => undefined);
    },
  };
}

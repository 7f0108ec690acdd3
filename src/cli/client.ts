import { join } from 'node:path';
import { type ErrorCode, Lwm2mFotaError, TOKEN_ENV, TOKEN_FILE, readTokenFile } from '../index';
import { usageError } from './run';

export interface ServerConnectionOptions {
  server?: string;
  dataDir?: string;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

/** Adds the options every command that talks to a running server shares. */
export function connectionOptions<T extends { option(flags: string, description: string, defaultValue?: string): T }>(cmd: T): T {
  return cmd
    .option('--server <url>', 'REST API of the running server', DEFAULT_SERVER)
    .option('--data-dir <dir>', 'data directory of the server (to find its API token)', './data');
}

/** `--server`: an http(s) URL, else a usage error (exit 2), not an unreachable server (exit 3). */
export function checkServerUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError(`--server must be the URL of the REST API, e.g. ${DEFAULT_SERVER}, got "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--server must be an http:// or https:// URL, got "${text}"`);
  return text.replace(/\/+$/, '');
}

/** Calls the REST API with the token from LWM2M_FOTA_TOKEN or <data-dir>/api-token. */
export class ApiClient {
  private readonly base: string;
  private readonly token: string;
  /** Where the token came from, named when the server refuses it (401). */
  private readonly tokenSource: string;

  constructor(options: ServerConnectionOptions) {
    this.base = checkServerUrl(options.server ?? DEFAULT_SERVER);
    const dataDir = options.dataDir ?? './data';
    const file = join(dataDir, TOKEN_FILE);
    const fromEnv = process.env[TOKEN_ENV];
    const token = fromEnv || readTokenFile(file);
    if (!token) {
      throw new Lwm2mFotaError('ERR_API_UNAUTHORIZED', `no API token: set ${TOKEN_ENV} or point --data-dir at the server's data directory (no ${file})`);
    }
    this.token = token;
    this.tokenSource = fromEnv ? `the token in ${TOKEN_ENV}` : `the token read from ${file}`;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.exchange<T>(method, path, body)).body;
  }

  /** Like {@link call}, with the HTTP status (200 and 201 tell "already there" from "created"). */
  async exchange<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await this.raw(method, path, body);
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      throw new Lwm2mFotaError('ERR_API_RESPONSE', `server answered ${res.status} with a body that is not JSON`);
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      let message = e?.message ?? `server answered ${res.status}`;
      // Which token was refused: the file of another server's data directory, or a stale variable.
      if (res.status === 401) message += ` (${this.tokenSource} was refused by ${this.base})`;
      throw new Lwm2mFotaError((e?.code ?? 'ERR_API_RESPONSE') as ErrorCode, message, {
        context: { status: res.status },
      });
    }
    return { status: res.status, body: parsed as T };
  }

  /**
   * The raw fetch Response (for streams); throws ERR_API_UNREACHABLE when no server answers.
   * A `Uint8Array` body is sent as it is (application/octet-stream), anything else as JSON.
   */
  async raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const url = this.base + path;
    const binary = body instanceof Uint8Array;
    try {
      return await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': binary ? 'application/octet-stream' : 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: binary ? body : JSON.stringify(body) }),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Lwm2mFotaError('ERR_API_UNREACHABLE', `cannot reach ${this.base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, { cause: err });
    }
  }
}

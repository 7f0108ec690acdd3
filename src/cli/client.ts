import { join } from 'node:path';
import { type ErrorCode, Lwm2mFotaError, TOKEN_ENV, TOKEN_FILE, readTokenFile } from '../index';

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

/** Calls the REST API with the token from LWM2M_FOTA_TOKEN or <data-dir>/api-token. */
export class ApiClient {
  private readonly base: string;
  private readonly token: string;

  constructor(options: ServerConnectionOptions) {
    this.base = (options.server ?? DEFAULT_SERVER).replace(/\/+$/, '');
    const dataDir = options.dataDir ?? './data';
    const token = process.env[TOKEN_ENV] || readTokenFile(join(dataDir, TOKEN_FILE));
    if (!token) {
      throw new Lwm2mFotaError('ERR_API_UNAUTHORIZED', `no API token: set ${TOKEN_ENV} or point --data-dir at the server's data directory (no ${join(dataDir, TOKEN_FILE)})`);
    }
    this.token = token;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
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
      throw new Lwm2mFotaError((e?.code ?? 'ERR_API_RESPONSE') as ErrorCode, e?.message ?? `server answered ${res.status}`, {
        context: { status: res.status },
      });
    }
    return parsed as T;
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

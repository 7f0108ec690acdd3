import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lwm2mFotaError } from '../errors';

export const TOKEN_FILE = 'api-token';
export const TOKEN_ENV = 'LWM2M_FOTA_TOKEN';

/**
 * The API token: `LWM2M_FOTA_TOKEN` when set, else `<dataDir>/api-token`, created with 32
 * random bytes and mode 0600 on first start. Throws ERR_CLI_IO when the file cannot be
 * written.
 */
export function loadOrCreateToken(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv !== undefined && fromEnv.length > 0) return fromEnv;
  const file = join(dataDir, TOKEN_FILE);
  const existing = readTokenFile(file);
  if (existing !== undefined) return existing;
  const token = randomBytes(32).toString('base64url');
  try {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600); // the umask may have narrowed wx's mode; never widen it
  } catch (err) {
    // Another process may have created it between our read and our write.
    const raced = readTokenFile(file);
    if (raced !== undefined) return raced;
    throw new Lwm2mFotaError('ERR_CLI_IO', `cannot write API token file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return token;
}

/** Reads the token a server wrote in its data directory; undefined when there is none. */
export function readTokenFile(file: string): string | undefined {
  try {
    const t = readFileSync(file, 'utf8').trim();
    return t.length > 0 ? t : undefined;
  } catch {
    return undefined;
  }
}

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

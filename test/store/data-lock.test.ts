/**
 * One server per data directory: the lock is held through the operating system (an SQLite
 * exclusive lock, i.e. fcntl), refused with the holder's name, released on close and on
 * the holder's death.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isLwm2mFotaError } from '../../src/errors';
import { ensureDirectory, lockDataDir } from '../../src/store';
import { tempDir } from '../helpers/tmp';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isLwm2mFotaError(err) ? err.code : `not ours: ${String(err)}`;
  }
  return undefined;
}

test('a second lock on the same directory is refused with the holder named, and granted after release', () => {
  const tmp = tempDir();
  try {
    const first = lockDataDir(tmp.dir);
    first.describe({ coap: 5683, http: 8080 });
    let message = '';
    try {
      lockDataDir(tmp.dir);
    } catch (err) {
      expect(isLwm2mFotaError(err) && err.code).toBe('ERR_STORE_LOCKED');
      message = (err as Error).message;
    }
    expect(message).toContain(`pid ${process.pid}`);
    expect(message).toContain('coap 5683');
    first.release();
    const again = lockDataDir(tmp.dir);
    again.release();
  } finally {
    tmp.remove();
  }
});

test('the lock of a process that was killed is stale at once (the OS dropped it)', async () => {
  const tmp = tempDir();
  try {
    const modulePath = join(__dirname, '..', '..', 'dist', 'store', 'data-lock.js');
    const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(modulePath)}).lockDataDir(${JSON.stringify(tmp.dir)}); console.log('locked'); setInterval(() => {}, 1000);`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve()));
    expect(codeOf(() => lockDataDir(tmp.dir))).toBe('ERR_STORE_LOCKED');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const lock = lockDataDir(tmp.dir);
    lock.release();
  } finally {
    tmp.remove();
  }
});

test('a data directory that cannot be created fails at once instead of spinning (/proc)', () => {
  const started = Date.now();
  expect(codeOf(() => ensureDirectory('/proc/lwm2m-fota-nope/data'))).toBe('ERR_STORE_OPEN');
  expect(Date.now() - started).toBeLessThan(5000);
});

test('missing parents of a data directory are created', () => {
  const tmp = tempDir();
  try {
    const dir = join(tmp.dir, 'a', 'b', 'c');
    const lock = lockDataDir(dir);
    expect(existsSync(join(dir, 'lwm2m-fota.lock'))).toBe(true);
    lock.release();
  } finally {
    tmp.remove();
  }
});

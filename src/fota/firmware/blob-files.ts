/**
 * Firmware files on disk, named by the SHA-256 (hex) of their content:
 * `<dataDir>/firmware/<sha256>` for what the repository serves, and
 * `<dataDir>/firmware/staging/<sha256>` for images uploaded ahead of their envelope (never
 * served until an accepted envelope names them).
 *
 * Every file is written atomically: a temporary file in the same directory, written and
 * fsynced, renamed into place, then the directory fsynced — so a file that exists under a
 * digest name is always complete, even after a crash or power loss.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Lwm2mFotaError } from '../../errors';
import { isFirmwareId } from './firmware-id';

const TMP_PREFIX = '.tmp-';

/** SHA-256 of `bytes` as 64 lowercase hex digits. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function ioError(message: string, cause: unknown): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_STORE_WRITE', `${message}: ${(cause as Error).message}`, { cause });
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, constants.O_RDONLY);
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** A file upload that went over its size limit. */
export class BlobTooLargeError extends Error {
  override readonly name = 'BlobTooLargeError';
  constructor(readonly limit: number) {
    super(`larger than ${limit} bytes`);
  }
}

export class BlobFiles {
  readonly dir: string;
  readonly stagingDir: string;

  constructor(firmwareDir: string) {
    this.dir = firmwareDir;
    this.stagingDir = join(firmwareDir, 'staging');
  }

  /** Creates the directories; removes temporary files and staged uploads left by an earlier run. */
  async init(): Promise<void> {
    try {
      await fs.mkdir(this.stagingDir, { recursive: true });
      for (const name of await fs.readdir(this.dir)) {
        if (name.startsWith(TMP_PREFIX)) await fs.rm(join(this.dir, name), { force: true });
      }
      // Staged images belong to uploads that never got their envelope (or a server that died
      // in between): the operator uploads them again.
      for (const name of await fs.readdir(this.stagingDir)) await fs.rm(join(this.stagingDir, name), { force: true });
    } catch (err) {
      throw new Lwm2mFotaError('ERR_STORE_OPEN', `cannot prepare the firmware directory ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  path(digest: string): string {
    return join(this.dir, digest);
  }

  stagedPath(digest: string): string {
    return join(this.stagingDir, digest);
  }

  /** Digests of the served files present on disk. */
  async list(): Promise<string[]> {
    return (await fs.readdir(this.dir)).filter((n) => isFirmwareId(n));
  }

  /** Whether a complete file for `digest` exists with `size` bytes. */
  async has(digest: string, size: number): Promise<boolean> {
    try {
      return (await fs.stat(this.path(digest))).size === size;
    } catch {
      return false;
    }
  }

  /** Writes `bytes` as `<dir>/<digest>` atomically (skipped when an identical-size file is already there). */
  async write(digest: string, bytes: Uint8Array): Promise<void> {
    if (await this.has(digest, bytes.length)) return;
    const tmp = join(this.dir, `${TMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      const h = await fs.open(tmp, 'wx', 0o644);
      try {
        await h.writeFile(bytes);
        await h.sync();
      } finally {
        await h.close();
      }
      await fs.rename(tmp, this.path(digest));
      await fsyncDir(this.dir);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => {});
      throw ioError(`cannot write firmware file ${digest}`, err);
    }
  }

  /**
   * Streams `source` into the staging directory while hashing it; refuses more than `limit`
   * bytes (BlobTooLargeError) and, when `expected` is given, content whose SHA-256 differs
   * (nothing is kept then). Resolves with the digest and size of what was staged.
   */
  async stage(source: AsyncIterable<Uint8Array>, limit: number, expected?: string): Promise<{ digest: string; size: number }> {
    const tmp = join(this.stagingDir, `${TMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    let kept = false;
    try {
      const h = await fs.open(tmp, 'wx', 0o644);
      try {
        for await (const chunk of source) {
          size += chunk.length;
          if (size > limit) throw new BlobTooLargeError(limit);
          hash.update(chunk);
          await h.write(chunk);
        }
        await h.sync();
      } finally {
        await h.close();
      }
      const digest = hash.digest('hex');
      if (expected !== undefined && digest !== expected) {
        throw new Lwm2mFotaError('ERR_SUIT_IMAGE_DIGEST', `the uploaded image has SHA-256 ${digest}, not ${expected}`);
      }
      await fs.rename(tmp, this.stagedPath(digest));
      kept = true;
      await fsyncDir(this.stagingDir);
      return { digest, size };
    } catch (err) {
      if (!kept) await fs.rm(tmp, { force: true }).catch(() => {});
      if (err instanceof BlobTooLargeError || err instanceof Lwm2mFotaError) throw err;
      throw ioError('cannot stage the image', err);
    }
  }

  /** Size of a staged file, or undefined. */
  async stagedSize(digest: string): Promise<number | undefined> {
    try {
      return (await fs.stat(this.stagedPath(digest))).size;
    } catch {
      return undefined;
    }
  }

  /** Moves a staged file to the served directory (atomic rename within one file system). */
  async promote(digest: string): Promise<void> {
    try {
      await fs.rename(this.stagedPath(digest), this.path(digest));
      await fsyncDir(this.dir);
    } catch (err) {
      throw ioError(`cannot move staged image ${digest}`, err);
    }
  }

  async read(digest: string): Promise<Buffer> {
    return fs.readFile(this.path(digest));
  }

  async readStaged(digest: string): Promise<Buffer> {
    return fs.readFile(this.stagedPath(digest));
  }

  async remove(digest: string): Promise<void> {
    await fs.rm(this.path(digest), { force: true });
  }
}

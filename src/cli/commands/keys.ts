import { closeSync, fchmodSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { Lwm2mFotaError } from '../../index';
import { encodeCoseKey, generateKeyPair, keyFingerprint, loadPublicKey, type SuitKeyAlgorithmName } from '../../suit';
import { action, printJson, usageError } from '../run';

/** Writes a new file with the given mode; refuses to overwrite unless `force`. */
export function writeNewFile(path: string, data: string | Uint8Array, mode: number, force = false): void {
  let fd: number;
  try {
    // The mode applies at creation, so a private key is never readable by others, not even briefly.
    fd = openSync(path, force ? 'w' : 'wx', mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Lwm2mFotaError('ERR_CLI_IO', code === 'EEXIST' ? `${path} exists (use --force to overwrite)` : `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    // An overwritten file keeps its old mode unless we set it.
    fchmodSync(fd, mode);
    if (typeof data === 'string') writeSync(fd, data);
    else writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
}

/** Reads a file or throws ERR_CLI_IO. */
export function readInput(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Lwm2mFotaError('ERR_CLI_IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

interface GenerateOptions {
  alg: string;
  out: string;
  force?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const keys = program.command('keys').description('signing keys for SUIT manifests (offline)');

  keys
    .command('generate')
    .description('generate a key pair: <prefix>.key.pem (PKCS#8, mode 0600) and <prefix>.pub.pem (SPKI)')
    .requiredOption('--alg <alg>', 'esp256 (P-256) or ed25519')
    .requiredOption('--out <prefix>', 'path prefix of the two PEM files')
    .option('--force', 'overwrite existing files')
    .option('--json', 'print JSON')
    .action(
      action((opts: GenerateOptions) => {
        const alg = opts.alg.toLowerCase();
        if (alg !== 'esp256' && alg !== 'ed25519') throw usageError(`--alg must be esp256 or ed25519, got "${opts.alg}"`);
        const pair = generateKeyPair(alg as SuitKeyAlgorithmName);
        const privatePath = `${opts.out}.key.pem`;
        const publicPath = `${opts.out}.pub.pem`;
        writeNewFile(privatePath, pair.privatePem, 0o600, opts.force);
        writeNewFile(publicPath, pair.publicPem, 0o644, opts.force);
        const fingerprint = keyFingerprint(pair.privateKey);
        if (opts.json) return printJson({ alg, privateKey: privatePath, publicKey: publicPath, fingerprint });
        process.stdout.write(`${alg} key ${fingerprint}\n  private: ${privatePath}\n  public:  ${publicPath}\n`);
      }),
    );

  keys
    .command('show')
    .description('show a key file (PEM or COSE_Key): type, fingerprint, public COSE_Key')
    .argument('<file>', 'a key file (PEM or COSE_Key)')
    .option('--json', 'print JSON')
    .action(
      action((file: string, opts: { json?: boolean }) => {
        const key = loadPublicKey(readInput(file));
        const info = {
          type: key.type,
          fingerprint: keyFingerprint(key),
          publicKeyHex: Buffer.from(key.publicKey).toString('hex'),
          coseKeyHex: Buffer.from(encodeCoseKey(key)).toString('hex'),
        };
        if (opts.json) return printJson(info);
        process.stdout.write(`${info.type} key ${info.fingerprint}\n  public:   ${info.publicKeyHex}\n  COSE_Key: ${info.coseKeyHex}\n`);
      }),
    );
}

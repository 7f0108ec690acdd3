import type { Command } from 'commander';
import { isLwm2mFotaError } from '../../index';
import {
  classIdFor,
  createManifest,
  describeEnvelope,
  envelopeTree,
  formatUuid,
  inspectUnverified,
  keyFingerprint,
  loadPrivateKey,
  loadPublicKey,
  parsePolicy,
  signEnvelope,
  vendorIdFor,
  verifyEnvelope,
  type SuitPolicy,
  type SuitSigner,
  type SuitTrustedKey,
} from '../../suit';
import { action, printJson, usageError } from '../run';
import { readInput, writeNewFile } from './keys';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function parseSequence(name: string, value: string): number | bigint {
  if (!/^\d+$/.test(value.trim())) throw usageError(`${name} must be a non-negative integer, got "${value}"`);
  const big = BigInt(value.trim());
  if (big > 0xffffffffffffffffn) throw usageError(`${name} must fit in 64 bits`);
  return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

/** The kid we put on a signature when several keys sign: the key's fingerprint as text. */
function kidFor(id: string): Uint8Array {
  return new TextEncoder().encode(id);
}

interface CreateOptions {
  image: string;
  seq: string;
  vendorDomain: string;
  className: string;
  uri?: string;
  integrated?: boolean;
  relativeUri?: boolean;
  fwVersion?: string;
  description?: string;
  key: string[];
  out: string;
  force?: boolean;
  json?: boolean;
}

interface SignOptions {
  key: string;
  kid?: string;
  out: string;
  force?: boolean;
}

interface VerifyOptions {
  key: string[];
  policy?: string;
  requireAll?: boolean;
  minSeq?: string;
  vendorDomain?: string;
  className?: string;
  json?: boolean;
}

function buildPolicy(opts: VerifyOptions): SuitPolicy {
  let base: SuitPolicy = { trustedKeys: [] };
  if (opts.policy !== undefined) {
    let doc: unknown;
    try {
      doc = JSON.parse(readInput(opts.policy).toString('utf8'));
    } catch (err) {
      if (isLwm2mFotaError(err)) throw err;
      throw usageError(`--policy ${opts.policy} is not JSON: ${(err as Error).message}`);
    }
    base = parsePolicy(doc);
  }
  const extra: SuitTrustedKey[] = opts.key.map((file) => {
    const key = loadPublicKey(readInput(file));
    return { id: keyFingerprint(key), key };
  });
  const seen = new Set(base.trustedKeys.map((k) => k.id ?? keyFingerprint(k.key)));
  const trustedKeys = [...base.trustedKeys, ...extra.filter((k) => !seen.has(k.id!) && (seen.add(k.id!), true))];
  if (trustedKeys.length === 0) throw usageError('give at least one --key (or a --policy with trusted keys)');
  const policy: SuitPolicy = { ...base, trustedKeys };
  if (opts.requireAll) {
    // Every trusted key must have signed, and every signature must verify.
    policy.signers = { ...(base.signers ?? {}), keyIds: trustedKeys.map((k) => k.id ?? keyFingerprint(k.key)), allSignaturesValid: true };
  }
  if (opts.minSeq !== undefined) policy.minSequenceNumber = parseSequence('--min-seq', opts.minSeq);
  if (opts.className !== undefined && opts.vendorDomain === undefined) throw usageError('--class-name needs --vendor-domain');
  if (opts.vendorDomain !== undefined) {
    const vendorId = vendorIdFor(opts.vendorDomain);
    policy.vendorIds = [formatUuid(vendorId)];
    if (opts.className !== undefined) policy.classIds = [formatUuid(classIdFor(vendorId, opts.className))];
  }
  return policy;
}

export function register(program: Command): void {
  const manifest = program.command('manifest').description('SUIT manifests: create, sign, verify, show (offline)');

  manifest
    .command('create')
    .description('create a SUIT envelope for a firmware image')
    .requiredOption('--image <file>', 'firmware image')
    .requiredOption('--seq <n>', 'sequence number (anti-rollback)')
    .requiredOption('--vendor-domain <domain>', 'vendor domain: vendor ID = UUIDv5(DNS, domain)')
    .requiredOption('--class-name <name>', 'device class: class ID = UUIDv5(vendor ID, name)')
    .option('--uri <uri>', 'URI the device fetches the image from')
    .option('--integrated', 'carry the image inside the envelope')
    .option('--relative-uri', 'URI = /fw/<sha256 of the image>, relative to the server the device fetched the envelope from')
    .option('--fw-version <version>', 'firmware version (text section)')
    .option('--description <text>', 'description (text section)')
    .option('--key <priv.pem>', 'sign with this private key (repeat for several signers)', collect, [])
    .requiredOption('--out <file>', 'envelope file to write')
    .option('--force', 'overwrite --out')
    .option('--json', 'print JSON')
    .action(
      action((opts: CreateOptions) => {
        const modes = [opts.uri !== undefined, !!opts.integrated, !!opts.relativeUri].filter(Boolean).length;
        if (modes !== 1) throw usageError('give exactly one of --uri, --integrated, --relative-uri');
        const keys = opts.key.map((f) => loadPrivateKey(readInput(f)));
        // With several signers each COSE_Sign1 names its key (kid = fingerprint), so a verifier
        // finds the right trusted key first.
        const signers: SuitSigner[] = keys.map((key) => (keys.length > 1 ? { key, kid: kidFor(keyFingerprint(key)) } : key));
        const created = createManifest({
          image: readInput(opts.image),
          sequenceNumber: parseSequence('--seq', opts.seq),
          vendorDomain: opts.vendorDomain,
          className: opts.className,
          ...(opts.uri !== undefined ? { uri: opts.uri } : {}),
          ...(opts.integrated ? { integrated: true } : {}),
          ...(opts.relativeUri ? { relativeUri: true } : {}),
          ...(opts.fwVersion !== undefined ? { version: opts.fwVersion } : {}),
          ...(opts.description !== undefined ? { description: opts.description } : {}),
          signers,
        });
        writeNewFile(opts.out, created.envelope, 0o644, opts.force);
        const info = {
          envelope: opts.out,
          size: created.envelope.length,
          sequenceNumber: typeof created.manifest.sequenceNumber === 'bigint' ? created.manifest.sequenceNumber.toString() : created.manifest.sequenceNumber,
          imageDigest: { alg: 'sha-256', hex: Buffer.from(created.imageDigest).toString('hex') },
          imageSize: created.imageSize,
          uri: created.uri,
          vendorId: formatUuid(created.vendorId),
          classId: formatUuid(created.classId),
          signers: keys.map((k) => keyFingerprint(k)),
        };
        if (opts.json) return printJson(info);
        process.stdout.write(
          `${info.envelope}: ${info.size} bytes, sequence ${info.sequenceNumber}, ${keys.length} signature(s)\n` +
            `  image  sha-256:${info.imageDigest.hex} (${info.imageSize} bytes)\n  uri    ${info.uri}\n` +
            `  vendor ${info.vendorId}\n  class  ${info.classId}\n`,
        );
      }),
    );

  manifest
    .command('sign')
    .description('append a signature to an envelope (every other signature stays as it is)')
    .argument('<envelope>', 'SUIT envelope file')
    .requiredOption('--key <priv.pem>', 'private key')
    .option('--kid <id>', 'key id for the COSE header (text)')
    .requiredOption('--out <file>', 'signed envelope to write')
    .option('--force', 'overwrite --out')
    .action(
      action((file: string, opts: SignOptions) => {
        const key = loadPrivateKey(readInput(opts.key));
        const signed = signEnvelope(readInput(file), key, opts.kid !== undefined ? { kid: kidFor(opts.kid) } : {});
        writeNewFile(opts.out, signed, 0o644, opts.force || opts.out === file);
        process.stdout.write(`${opts.out}: signed by ${keyFingerprint(key)} (${signed.length} bytes)\n`);
      }),
    );

  manifest
    .command('verify')
    .description('verify an envelope against trusted keys and policy; exit 0 only when valid')
    .argument('<envelope>', 'SUIT envelope file')
    .option('--key <pub.pem>', 'trusted public key (repeat for several)', collect, [])
    .option('--policy <file>', 'policy JSON (trusted keys with roles, signer requirements, IDs, minimum sequence number)')
    .option('--require-all', 'every given key must have signed, and every signature must verify')
    .option('--min-seq <n>', 'lowest acceptable sequence number')
    .option('--vendor-domain <domain>', 'accept only this vendor')
    .option('--class-name <name>', 'accept only this device class (needs --vendor-domain)')
    .option('--json', 'print JSON')
    .action(
      action((file: string, opts: VerifyOptions) => {
        try {
          const bytes = readInput(file);
          const policy = buildPolicy(opts);
          const result = verifyEnvelope(bytes, policy);
          if (opts.json) return printJson(describeEnvelope(result));
          process.stdout.write(envelopeTree(result) + '\n');
        } catch (err) {
          if (opts.json && isLwm2mFotaError(err)) printJson({ valid: false, error: { code: err.code, message: err.message } });
          throw err;
        }
      }),
    );

  manifest
    .command('show')
    .description('show an envelope WITHOUT verifying it (inspection only)')
    .argument('<envelope>', 'SUIT envelope file')
    .option('--json', 'print JSON')
    .action(
      action((file: string, opts: { json?: boolean }) => {
        const result = inspectUnverified(readInput(file));
        if (opts.json) return printJson(describeEnvelope(result));
        process.stdout.write(envelopeTree(result) + '\n');
      }),
    );
}

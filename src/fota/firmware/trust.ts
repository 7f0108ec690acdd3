/**
 * The server's trust policy from its command line: `--trust <pub.pem>…` (each key trusted,
 * named by its fingerprint) and/or `--policy <file>` (the JSON form of src/suit's policy:
 * keys with roles, signer requirements, vendor/class IDs, minimum sequence number). Keys
 * given with --trust join the policy file's keys.
 */
import { readFileSync } from 'node:fs';
import { Lwm2mFotaError } from '../../errors';
import { keyFingerprint, loadPublicKey, parsePolicy, trustedKeyId, type SuitPolicy, type SuitTrustedKey } from '../../suit';

export interface TrustOptions {
  /** PEM files of trusted public keys. */
  readonly trust?: readonly string[];
  /** A JSON policy file. */
  readonly policy?: string;
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Lwm2mFotaError('ERR_SUIT_POLICY', `cannot read ${what} ${file}: ${(err as Error).message}`, { cause: err, context: { file } });
  }
}

/**
 * Builds the policy, or undefined when neither keys nor a policy file are given (the
 * repository then refuses every firmware).
 *
 * @throws Lwm2mFotaError ERR_SUIT_POLICY (unreadable or malformed file, no trusted key),
 *   ERR_SUIT_KEY (a key that cannot be used).
 */
export function loadTrustPolicy(options: TrustOptions): SuitPolicy | undefined {
  const files = options.trust ?? [];
  if (files.length === 0 && options.policy === undefined) return undefined;
  let base: SuitPolicy = { trustedKeys: [] };
  if (options.policy !== undefined) {
    let doc: unknown;
    try {
      doc = JSON.parse(read(options.policy, 'policy file').toString('utf8'));
    } catch (err) {
      if (err instanceof Lwm2mFotaError) throw err;
      throw new Lwm2mFotaError('ERR_SUIT_POLICY', `policy file ${options.policy} is not JSON: ${(err as Error).message}`, { cause: err });
    }
    base = parsePolicy(doc);
  }
  const seen = new Set(base.trustedKeys.map(trustedKeyId));
  const extra: SuitTrustedKey[] = [];
  for (const file of files) {
    const key = loadPublicKey(read(file, 'trusted key'));
    const id = keyFingerprint(key);
    if (seen.has(id)) continue;
    seen.add(id);
    extra.push({ id, key });
  }
  const trustedKeys = [...base.trustedKeys, ...extra];
  if (trustedKeys.length === 0) throw new Lwm2mFotaError('ERR_SUIT_POLICY', 'the trust policy names no trusted key');
  return { ...base, trustedKeys };
}

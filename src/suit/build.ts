/**
 * Building and signing envelopes.
 */
import { createHash } from 'node:crypto';
import { Lwm2mFotaError } from '../errors';
import { decodeCbor, encodeCbor } from './cbor';
import { CoseAlgorithm, CoseHashAlgorithm, SuitCommandCode as C, SuitParameterLabel as P, SuitTextComponentKey, SuitTextKey } from './constants';
import { coseSign1FromCbor, signCoseSign1, verifyCoseSign1 } from './cose';
import { decodeEnvelope, encodeEnvelope, type SuitEnvelope, type SuitSeverableElements } from './envelope';
import type { SuitPrivateKey } from './keys';
import { digestToCbor, encodeManifest, encodeText } from './manifest';
import type { SuitCommandSequence, SuitComponentId, SuitDigest, SuitManifest, SuitParameter, SuitText } from './types';
import { classIdFor, vendorIdFor } from './uuid';
import { suitDigestOf } from './verify';

/** A signer: a private key, optionally with the kid and algorithm to put in its COSE_Sign1. */
export type SuitSigner = SuitPrivateKey | { key: SuitPrivateKey; kid?: Uint8Array; alg?: number };

function signerParts(s: SuitSigner): { key: SuitPrivateKey; kid?: Uint8Array; alg?: number } {
  return 'key' in s ? s : { key: s };
}

/** The SUIT_Digest (SHA-256) of a bstr-wrapped element, e.g. a manifest or a severable element. */
export function digestOfElement(content: Uint8Array): SuitDigest {
  return { alg: CoseHashAlgorithm.Sha256, bytes: suitDigestOf(content) };
}

/** Options for `buildEnvelope`. */
export interface BuildEnvelopeOptions {
  /** Severable elements to carry in the envelope (their digests must be in the manifest). */
  severable?: SuitSeverableElements;
  integratedPayloads?: Array<{ key: string; bytes: Uint8Array }>;
}

/**
 * Wraps an encoded manifest into an unsigned envelope (digest-only authentication wrapper).
 * Sign it with `signEnvelope`.
 */
export function buildEnvelope(manifestBytes: Uint8Array, options: BuildEnvelopeOptions = {}): Uint8Array {
  const digest = digestOfElement(manifestBytes);
  const env: SuitEnvelope = {
    authentication: { digestBytes: encodeCbor(digestToCbor(digest)), digest, blocks: [] },
    manifestBytes,
    severable: options.severable ?? {},
    integratedPayloads: options.integratedPayloads ?? [],
    extensions: [],
  };
  return encodeEnvelope(env);
}

/** Options for `signEnvelope`. */
export interface SignEnvelopeOptions {
  /** kid for the unprotected header; default the key's own kid, if any. */
  kid?: Uint8Array;
  /** COSE algorithm; default ESP256 (-9) for P-256, Ed25519 (-19) for Ed25519. */
  alg?: number;
}

/**
 * Appends a COSE_Sign1 over the envelope's manifest digest. Every other byte of the envelope
 * stays as it was except the authentication wrapper's length and count (the manifest, the
 * severable elements, the payloads and the existing signatures are copied untouched).
 *
 * @throws Lwm2mFotaError `ERR_SUIT_CBOR`/`ERR_SUIT_STRUCTURE` (not an envelope),
 *   `ERR_SUIT_ALGORITHM_NOT_ALLOWED` (digest algorithm not SHA-256, or alg/key mismatch),
 *   `ERR_SUIT_MANIFEST_DIGEST` (the manifest does not match its digest: §8.3 "Signers … MUST
 *   verify the SUIT_Digest prior to performing the cryptographic computation"),
 *   `ERR_SUIT_KEY` (this key already signed with this algorithm).
 */
export function signEnvelope(envelopeBytes: Uint8Array, key: SuitPrivateKey, options: SignEnvelopeOptions = {}): Uint8Array {
  const env = decodeEnvelope(envelopeBytes);
  const digest = env.authentication.digest;
  if (digest.alg !== CoseHashAlgorithm.Sha256) throw new Lwm2mFotaError('ERR_SUIT_ALGORITHM_NOT_ALLOWED', `cannot sign over digest algorithm ${digest.alg}`);
  const actual = suitDigestOf(env.manifestBytes);
  if (Buffer.compare(Buffer.from(actual), Buffer.from(digest.bytes)) !== 0) throw new Lwm2mFotaError('ERR_SUIT_MANIFEST_DIGEST', 'the manifest does not match its digest; refusing to sign');
  // §8.3: several blocks must use "a different algorithm or signing/MAC authority".
  const alg = options.alg ?? (key.type === 'p256' ? CoseAlgorithm.ESP256 : CoseAlgorithm.Ed25519);
  for (const b of env.authentication.blocks) {
    if (b.kind === 'sign1' && b.sign1.alg === alg && verifyCoseSign1(b.sign1, env.authentication.digestBytes, key)) {
      throw new Lwm2mFotaError('ERR_SUIT_KEY', 'this key already signed the envelope with this algorithm');
    }
  }
  const raw = signCoseSign1(env.authentication.digestBytes, key, options);
  env.authentication.blocks.push({ kind: 'sign1', raw, sign1: coseSign1FromCbor(decodeCbor(raw), raw) });
  return encodeEnvelope(env);
}

/** Options for `createManifest`. Give exactly one of `uri`, `integrated`, `relativeUri`. */
export interface CreateManifestOptions {
  /** The firmware image. */
  image: Uint8Array;
  /** suit-manifest-sequence-number (anti-rollback); e.g. a build number or a UTC timestamp. */
  sequenceNumber: number | bigint;
  /** Vendor domain: vendor ID = UUIDv5(DNS, domain). */
  vendorDomain: string;
  /** Class name: class ID = UUIDv5(vendor ID, name). */
  className: string;
  /** The URI (absolute, or a relative reference) the device fetches the image from. */
  uri?: string;
  /** Put the image into the envelope (key and URI "#firmware"). */
  integrated?: boolean;
  /** Set the URI to the relative reference `/fw/<sha256 of the image, hex>`. */
  relativeUri?: boolean;
  /** Component identifier; default `[h'00']`. */
  componentId?: SuitComponentId;
  /** Firmware version for the text section (suit-text-component-version). */
  version?: string;
  /** Description for the text section (suit-text-manifest-description). */
  description?: string;
  /** Language tag of the text section; default "en-US". */
  textLanguage?: string;
  /** Signers, in order; none gives an unsigned envelope. */
  signers?: readonly SuitSigner[];
}

/** What `createManifest` made. */
export interface CreatedManifest {
  /** The encoded envelope (signed when signers were given). */
  envelope: Uint8Array;
  manifest: SuitManifest;
  /** SHA-256 of the image. */
  imageDigest: Uint8Array;
  imageSize: number;
  /** The URI in the manifest. */
  uri: string;
  vendorId: Uint8Array;
  classId: Uint8Array;
}

/** Key and URI of an integrated payload (§7.6: a fragment-only reference). */
export const INTEGRATED_PAYLOAD_URI = '#firmware';

/** `/fw/<hex sha256>` — the immutable firmware URI of the repository, relative to the server. */
export function relativeFirmwareUri(imageDigest: Uint8Array): string {
  return `/fw/${Buffer.from(imageDigest).toString('hex')}`;
}

/**
 * Creates a manifest for one image and its envelope: shared sequence with vendor and class
 * conditions, install (set URI, fetch, image-match), validate (image-match), and a text
 * section carried as a severable element (§8.4.4: "suit-text SHOULD be a severable element").
 *
 * @throws Lwm2mFotaError `ERR_SUIT_STRUCTURE` when not exactly one of uri / integrated /
 *   relativeUri is given or the sequence number is negative; errors of `signEnvelope`.
 */
export function createManifest(options: CreateManifestOptions): CreatedManifest {
  const modes = [options.uri !== undefined, options.integrated === true, options.relativeUri === true].filter(Boolean).length;
  if (modes !== 1) throw new Lwm2mFotaError('ERR_SUIT_STRUCTURE', 'give exactly one of uri, integrated, relativeUri');
  if (BigInt(options.sequenceNumber) < 0n) throw new Lwm2mFotaError('ERR_SUIT_STRUCTURE', 'the sequence number must not be negative');
  const imageDigest = new Uint8Array(createHash('sha256').update(options.image).digest());
  const vendorId = vendorIdFor(options.vendorDomain);
  const classId = classIdFor(vendorId, options.className);
  const uri = options.integrated ? INTEGRATED_PAYLOAD_URI : options.relativeUri ? relativeFirmwareUri(imageDigest) : options.uri!;
  const componentId = options.componentId ?? [new Uint8Array([0])];
  // Reporting policy 15 (all four report bits), fetch 2 — as the draft's examples use.
  const REPORT_ALL = 15;
  const shared: SuitParameter[] = [
    { label: P.VendorIdentifier, value: { type: 'bytes', bytes: vendorId } },
    { label: P.ClassIdentifier, value: { type: 'bytes', bytes: classId } },
    { label: P.ImageDigest, value: { type: 'digest', digest: { alg: CoseHashAlgorithm.Sha256, bytes: imageDigest } } },
    { label: P.ImageSize, value: { type: 'uint', value: options.image.length } },
  ];
  const sharedSequence: SuitCommandSequence = [
    { code: C.OverrideParameters, arg: { kind: 'parameters', parameters: shared } },
    { code: C.VendorIdentifier, arg: { kind: 'reportingPolicy', value: REPORT_ALL } },
    { code: C.ClassIdentifier, arg: { kind: 'reportingPolicy', value: REPORT_ALL } },
  ];
  const install: SuitCommandSequence = [
    { code: C.OverrideParameters, arg: { kind: 'parameters', parameters: [{ label: P.Uri, value: { type: 'text', value: uri } }] } },
    { code: C.Fetch, arg: { kind: 'reportingPolicy', value: 2 } },
    { code: C.ImageMatch, arg: { kind: 'reportingPolicy', value: REPORT_ALL } },
  ];
  const validate: SuitCommandSequence = [{ code: C.ImageMatch, arg: { kind: 'reportingPolicy', value: REPORT_ALL } }];
  const componentFields: Array<[number, string]> = [
    [SuitTextComponentKey.VendorDomain, options.vendorDomain],
    [SuitTextComponentKey.ModelName, options.className],
  ];
  if (options.version !== undefined) componentFields.push([SuitTextComponentKey.ComponentVersion, options.version]);
  const text: SuitText = [
    {
      tag: options.textLanguage ?? 'en-US',
      fields: options.description !== undefined ? [[SuitTextKey.ManifestDescription, options.description]] : [],
      components: [{ id: componentId, fields: componentFields }],
    },
  ];
  const textBytes = encodeText(text);
  const manifest: SuitManifest = {
    version: 1,
    sequenceNumber: options.sequenceNumber,
    common: { components: [componentId], sharedSequence },
    validate,
    install: { severed: false, value: install },
    text: { severed: true, digest: digestOfElement(textBytes), value: text },
  };
  let envelope = buildEnvelope(encodeManifest(manifest), {
    severable: { text: textBytes },
    integratedPayloads: options.integrated ? [{ key: INTEGRATED_PAYLOAD_URI, bytes: options.image }] : [],
  });
  for (const s of options.signers ?? []) {
    const { key, ...opts } = signerParts(s);
    envelope = signEnvelope(envelope, key, opts);
  }
  return { envelope, manifest, imageDigest, imageSize: options.image.length, uri, vendorId, classId };
}

/**
 * Checks an image against the digest and size a component summary or manifest gives.
 *
 * @throws Lwm2mFotaError `ERR_SUIT_IMAGE_DIGEST` on a mismatch or an unsupported digest.
 */
export function checkImage(image: Uint8Array, expected: { imageDigest?: SuitDigest; imageSize?: number | bigint }): void {
  if (!expected.imageDigest) throw new Lwm2mFotaError('ERR_SUIT_IMAGE_DIGEST', 'the manifest gives no image digest');
  if (expected.imageDigest.alg !== CoseHashAlgorithm.Sha256) throw new Lwm2mFotaError('ERR_SUIT_IMAGE_DIGEST', `unsupported image digest algorithm ${expected.imageDigest.alg}`);
  if (expected.imageSize !== undefined && BigInt(image.length) !== BigInt(expected.imageSize)) {
    throw new Lwm2mFotaError('ERR_SUIT_IMAGE_DIGEST', `image has ${image.length} bytes, the manifest says ${expected.imageSize}`);
  }
  const d = createHash('sha256').update(image).digest();
  if (Buffer.compare(d, Buffer.from(expected.imageDigest.bytes)) !== 0) throw new Lwm2mFotaError('ERR_SUIT_IMAGE_DIGEST', 'image does not match the manifest digest');
}

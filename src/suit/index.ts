/**
 * SUIT signed manifests (draft-ietf-suit-manifest-34, RFC 9019, RFC 9124) with COSE_Sign1:
 * envelope codec, signing, layered verification against a trust policy, manifest creation,
 * keys. A pure library: it depends on nothing in src/ but the error class.
 *
 * @example
 * import { createManifest, generateKeyPair, verifyEnvelope } from './suit';
 * const { privateKey } = generateKeyPair('esp256');
 * const { envelope } = createManifest({ image, sequenceNumber: 7, vendorDomain: 'example.com',
 *   className: 'sensor-v2', relativeUri: true, signers: [privateKey] });
 * const result = verifyEnvelope(envelope, { trustedKeys: [{ key: privateKey }], minSequenceNumber: 7 });
 */
export { decodeCbor, encodeCbor, CborMap, CborTag, CborSimple, CborFloat, wrapBstr, type CborValue } from './cbor';
export {
  SuitTag,
  EnvelopeKey,
  ManifestKey,
  SuitCommandCode,
  SuitParameterLabel,
  SuitTextKey,
  SuitTextComponentKey,
  CoseAlgorithm,
  CoseHashAlgorithm,
  SUIT_COMMAND_NAMES,
  SUIT_PARAMETER_NAMES,
} from './constants';
export type * from './types';
export {
  decodeEnvelope,
  encodeEnvelope,
  decodeAuthentication,
  encodeAuthentication,
  type SuitEnvelope,
  type SuitAuthentication,
  type SuitAuthenticationBlock,
  type SuitSeverableElements,
} from './envelope';
export { decodeManifest, encodeManifest, decodeSequence, encodeSequence, decodeText, encodeText } from './manifest';
export { signCoseSign1, verifyCoseSign1, sigStructure, algorithmName, type CoseSign1, type CoseSignOptions, type SignatureVerifier } from './cose';
export {
  generateKeyPair,
  loadPublicKey,
  loadPrivateKey,
  publicKeyToPem,
  privateKeyToPem,
  encodeCoseKey,
  decodeCoseKey,
  keyFingerprint,
  type SuitKeyType,
  type SuitPublicKey,
  type SuitPrivateKey,
  type SuitGeneratedKeyPair,
  type SuitKeyAlgorithmName,
} from './keys';
export {
  resolvePolicy,
  parsePolicy,
  trustedKeyId,
  DEFAULT_ALLOWED_ALGORITHMS,
  type SuitPolicy,
  type SuitPolicyJson,
  type SuitTrustedKey,
  type SuitSignerRequirement,
} from './policy';
export {
  verifyEnvelope,
  inspectUnverified,
  suitDigestOf,
  type SuitVerifiedEnvelope,
  type SuitInspection,
  type SuitEnvelopeReport,
  type SuitSignatureReport,
  type SuitSeveredStatus,
} from './verify';
export { summarizeComponents, identifierChecks, type SuitComponentSummary, type SuitAlternativeSummary, type SuitIdentifierCheck } from './summary';
export {
  createManifest,
  buildEnvelope,
  signEnvelope,
  checkImage,
  digestOfElement,
  relativeFirmwareUri,
  INTEGRATED_PAYLOAD_URI,
  type CreateManifestOptions,
  type CreatedManifest,
  type BuildEnvelopeOptions,
  type SignEnvelopeOptions,
  type SuitSigner,
} from './build';
export {
  createKeyRotationEnvelope,
  acceptKeyRotation,
  readKeyAnnouncement,
  KEY_ANNOUNCEMENT_MEMBER,
  type KeyRotationOptions,
  type SuitKeyAnnouncement,
  type SuitKeyRotationResult,
} from './rotation';
export { describeEnvelope, envelopeTree, textJson, type SuitEnvelopeJson, type SuitComponentJson, type SuitAlternativeJson, type SuitSignatureJson, type SuitDigestJson } from './describe';
export { uuidV5, formatUuid, parseUuid, vendorIdFor, classIdFor, UUID_NAMESPACE_DNS } from './uuid';
export { resolveUriReference, isRelativeReference } from './uri';

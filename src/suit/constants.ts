/**
 * Numbers from draft-ietf-suit-manifest-34 (§8, IANA tables) and RFC 9052/9053 (COSE).
 * Spec numbers as `as const` objects plus a union type, never `enum`.
 */

/** CBOR tags. */
export const SuitTag = {
  Envelope: 107,
  Manifest: 1070,
  CoseSign1: 18,
  CoseSign: 98,
  CoseMac0: 17,
  CoseMac: 97,
  CborPen: 112,
} as const;

/** Envelope keys (SUIT_Envelope). */
export const EnvelopeKey = {
  AuthenticationWrapper: 2,
  Manifest: 3,
  PayloadFetch: 16,
  Install: 20,
  Text: 23,
} as const;

/** Manifest keys (SUIT_Manifest). */
export const ManifestKey = {
  Version: 1,
  SequenceNumber: 2,
  Common: 3,
  ReferenceUri: 4,
  Validate: 7,
  Load: 8,
  Invoke: 9,
  PayloadFetch: 16,
  Install: 20,
  Text: 23,
} as const;

/** SUIT_Common keys. */
export const CommonKey = { Components: 2, SharedSequence: 4 } as const;

/** Conditions and directives of the manifest draft (§8.4.10, §8.4.11). */
export const SuitCommandCode = {
  VendorIdentifier: 1,
  ClassIdentifier: 2,
  ImageMatch: 3,
  ComponentSlot: 5,
  CheckContent: 6,
  SetComponentIndex: 12,
  Abort: 14,
  TryEach: 15,
  Write: 18,
  OverrideParameters: 20,
  Fetch: 21,
  Copy: 22,
  Invoke: 23,
  DeviceIdentifier: 24,
  Swap: 31,
  RunSequence: 32,
} as const;
export type SuitCommandCode = (typeof SuitCommandCode)[keyof typeof SuitCommandCode];

export const SUIT_COMMAND_NAMES: Readonly<Record<number, string>> = {
  1: 'condition-vendor-identifier',
  2: 'condition-class-identifier',
  3: 'condition-image-match',
  5: 'condition-component-slot',
  6: 'condition-check-content',
  12: 'directive-set-component-index',
  14: 'condition-abort',
  15: 'directive-try-each',
  18: 'directive-write',
  20: 'directive-override-parameters',
  21: 'directive-fetch',
  22: 'directive-copy',
  23: 'directive-invoke',
  24: 'condition-device-identifier',
  31: 'directive-swap',
  32: 'directive-run-sequence',
};

/** Commands whose argument is a SUIT_Rep_Policy (uint). */
export const REPORTING_POLICY_COMMANDS: ReadonlySet<number> = new Set([1, 2, 3, 5, 6, 14, 18, 21, 22, 23, 24, 31]);

/** Parameters of the manifest draft (§8.4.8). */
export const SuitParameterLabel = {
  VendorIdentifier: 1,
  ClassIdentifier: 2,
  ImageDigest: 3,
  ComponentSlot: 5,
  StrictOrder: 12,
  SoftFailure: 13,
  ImageSize: 14,
  Content: 18,
  Uri: 21,
  SourceComponent: 22,
  InvokeArgs: 23,
  DeviceIdentifier: 24,
  FetchArguments: 25,
} as const;
export type SuitParameterLabel = (typeof SuitParameterLabel)[keyof typeof SuitParameterLabel];

export const SUIT_PARAMETER_NAMES: Readonly<Record<number, string>> = {
  1: 'vendor-id',
  2: 'class-id',
  3: 'image-digest',
  5: 'component-slot',
  12: 'strict-order',
  13: 'soft-failure',
  14: 'image-size',
  18: 'content',
  21: 'uri',
  22: 'source-component',
  23: 'invoke-args',
  24: 'device-id',
  25: 'fetch-arguments',
};

/** Text keys (SUIT_Text_Keys and SUIT_Text_Component_Keys). */
export const SuitTextKey = { ManifestDescription: 1, UpdateDescription: 2, ManifestJsonSource: 3, ManifestYamlSource: 4 } as const;
export const SuitTextComponentKey = {
  VendorName: 1,
  ModelName: 2,
  VendorDomain: 3,
  ModelInfo: 4,
  ComponentDescription: 5,
  ComponentVersion: 6,
} as const;
export const SUIT_TEXT_KEY_NAMES: Readonly<Record<number, string>> = {
  1: 'manifest-description',
  2: 'update-description',
  3: 'manifest-json-source',
  4: 'manifest-yaml-source',
};
export const SUIT_TEXT_COMPONENT_KEY_NAMES: Readonly<Record<number, string>> = {
  1: 'vendor-name',
  2: 'model-name',
  3: 'vendor-domain',
  4: 'model-info',
  5: 'component-description',
  6: 'component-version',
};

/** COSE algorithm identifiers used for SUIT signatures (RFC 9053, RFC 9864). */
export const CoseAlgorithm = {
  ES256: -7,
  EdDSA: -8,
  ESP256: -9,
  Ed25519: -19,
} as const;
export type CoseAlgorithm = (typeof CoseAlgorithm)[keyof typeof CoseAlgorithm];

export const COSE_ALGORITHM_NAMES: Readonly<Record<number, string>> = { [-7]: 'ES256', [-8]: 'EdDSA', [-9]: 'ESP256', [-19]: 'Ed25519' };

/** COSE hash algorithm for SUIT_Digest: SHA-256 is the only one REQUIRED (and the only one we accept). */
export const CoseHashAlgorithm = { Sha256: -16 } as const;

/**
 * The SUIT data model (draft-ietf-suit-manifest-34). Every structure keeps what it does not
 * understand in `extensions` (map entries) or as a `raw` command argument, so that
 * `encode(decode(bytes))` gives back the same bytes and nothing unknown is dropped.
 */
import type { CborValue } from './cbor';

/** A map entry as decoded, kept for members this library does not interpret. */
export type CborEntry = [CborValue, CborValue];

/** SUIT_Digest = [alg, bytes, * extensions]. */
export interface SuitDigest {
  /** COSE hash algorithm id; -16 = SHA-256. */
  alg: number;
  bytes: Uint8Array;
  /** Further array elements ($$SUIT_Digest-extensions), preserved. */
  extensions?: CborValue[];
}

/** SUIT_Component_Identifier = [* bstr]. */
export type SuitComponentId = Uint8Array[];

/** A parameter value, typed by what the draft says its label carries. */
export type SuitParameterValue =
  /** vendor-id, class-id, device-id (16-byte UUIDs), content, invoke-args, fetch-arguments */
  | { type: 'bytes'; bytes: Uint8Array }
  /** vendor-id given as a private enterprise number OID, cbor-pen = #6.112(bstr) */
  | { type: 'pen'; bytes: Uint8Array }
  /** image-digest: bstr .cbor SUIT_Digest */
  | { type: 'digest'; digest: SuitDigest }
  /** image-size, component-slot, source-component */
  | { type: 'uint'; value: number | bigint }
  /** strict-order, soft-failure */
  | { type: 'bool'; value: boolean }
  /** uri */
  | { type: 'text'; value: string }
  /** custom (negative) and unknown labels: the decoded item, preserved */
  | { type: 'raw'; value: CborValue };

export interface SuitParameter {
  label: number;
  value: SuitParameterValue;
}

/** The argument of a command, by the kind the draft gives its code. */
export type SuitCommandArg =
  /** conditions and most directives: SUIT_Rep_Policy */
  | { kind: 'reportingPolicy'; value: number }
  /** set-component-index: uint / true / [+ uint] */
  | { kind: 'componentIndex'; value: number | true | number[] }
  /** override-parameters: {+ SUIT_Parameters} */
  | { kind: 'parameters'; parameters: SuitParameter[] }
  /** try-each: [2* bstr .cbor SUIT_Command_Sequence, ? nil] */
  | { kind: 'tryEach'; sequences: SuitCommandSequence[]; nilFallback: boolean }
  /** run-sequence: bstr .cbor SUIT_Command_Sequence */
  | { kind: 'sequence'; sequence: SuitCommandSequence }
  /** custom (negative) and unknown codes: the decoded item, preserved */
  | { kind: 'raw'; value: CborValue };

export interface SuitCommand {
  code: number;
  arg: SuitCommandArg;
}

export type SuitCommandSequence = SuitCommand[];

/** SUIT_Common. */
export interface SuitCommon {
  components?: SuitComponentId[];
  sharedSequence?: SuitCommandSequence;
  extensions?: CborEntry[];
}

/** One language of SUIT_Text_Map (SUIT_Text_LMap). */
export interface SuitTextLanguage {
  /** Language tag (RFC 9290 Tag38 form), e.g. "en-US". */
  tag: string;
  /** SUIT_Text_Keys: 1 manifest-description, 2 update-description, 3 json, 4 yaml. */
  fields: Array<[number, string]>;
  /** Per component: SUIT_Text_Component_Keys (1 vendor-name … 6 component-version). */
  components: Array<{ id: SuitComponentId; fields: Array<[number, string]>; extensions?: CborEntry[] }>;
  extensions?: CborEntry[];
}

/** SUIT_Text_Map: one entry per language. */
export type SuitText = SuitTextLanguage[];

/**
 * A severable member of the manifest: either inline, or severed (the manifest holds only
 * the digest; the element may be present in the envelope). `value` of a severed member is
 * filled in by verification once the envelope's element matched the digest (or by an
 * unverified inspection).
 */
export type SuitSeverable<T> =
  | { severed: false; value: T }
  | { severed: true; digest: SuitDigest; value?: T };

/** SUIT_Manifest. */
export interface SuitManifest {
  /** The manifest was wrapped in tag 1070 (tolerated, preserved). */
  tagged?: boolean;
  /** suit-manifest-version: always 1. */
  version: 1;
  sequenceNumber: number | bigint;
  common: SuitCommon;
  referenceUri?: string;
  validate?: SuitCommandSequence;
  load?: SuitCommandSequence;
  invoke?: SuitCommandSequence;
  payloadFetch?: SuitSeverable<SuitCommandSequence>;
  install?: SuitSeverable<SuitCommandSequence>;
  text?: SuitSeverable<SuitText>;
  /** Members this library does not interpret ($$SUIT_Manifest_Extensions), preserved. */
  extensions?: CborEntry[];
}

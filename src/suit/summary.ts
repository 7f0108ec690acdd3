/**
 * What a manifest says about its components, found by walking its command sequences the
 * way a manifest processor tracks parameters (draft-ietf-suit-manifest-34 §6.4–6.6):
 * set-component-index selects components (reset to 0 at the start of each sequence),
 * override-parameters sets values for the selected ones, run-sequence nests, and try-each
 * branches see their own copy of the parameters.
 */
import { SuitCommandCode, SuitParameterLabel } from './constants';
import type { SuitCommandSequence, SuitComponentId, SuitDigest, SuitManifest, SuitParameterValue } from './types';

/**
 * One try-each alternative of a component (e.g. the A/B slots of the draft's Example 3): the
 * values its branches set. Branches of different sequences that select the same component
 * slot are one alternative (the draft sets the digest in shared-sequence and the URI in
 * install, each in a try-each on the slot).
 */
export interface SuitAlternativeSummary {
  /** component-slot (parameter 5) of the branch, when it sets or inherits one. */
  slot?: number | bigint;
  imageDigest?: SuitDigest;
  imageSize?: number | bigint;
  uri?: string;
}

/** The values a manifest gives one component outside try-each alternatives. */
export interface SuitComponentSummary {
  index: number;
  id: SuitComponentId;
  vendorId?: Uint8Array;
  classId?: Uint8Array;
  imageDigest?: SuitDigest;
  imageSize?: number | bigint;
  /** The first URI set for this component outside try-each. */
  uri?: string;
  /** Every URI that may be used, try-each alternatives included, in manifest order. */
  uris: string[];
  /** All parameters by label (last value set outside try-each). */
  parameters: Map<number, SuitParameterValue>;
  /** The try-each alternatives that set a slot, digest, size or URI, in manifest order; empty without try-each. */
  alternatives: SuitAlternativeSummary[];
}

/** An identifier condition and the parameter value it compares at that point. */
export interface SuitIdentifierCheck {
  condition: 'vendor' | 'class' | 'device';
  component: number;
  /** undefined when the parameter was never set (the condition would fail). */
  value: Uint8Array | undefined;
  /** The check sits inside a try-each alternative. */
  inTryEach: boolean;
}

type Params = Array<Map<number, SuitParameterValue>>;

interface Walk {
  components: number;
  top: Params;
  uris: string[][];
  firstUri: Array<string | undefined>;
  checks: SuitIdentifierCheck[];
  alternatives: SuitAlternativeSummary[][];
}

/** What a finished try-each branch set (or changed) for component `i`, merged by slot. */
function recordAlternative(w: Walk, i: number, before: Map<number, SuitParameterValue>, after: Map<number, SuitParameterValue>): void {
  const changed = (label: number): SuitParameterValue | undefined => {
    const v = after.get(label);
    return v !== undefined && v !== before.get(label) ? v : undefined;
  };
  const slot = after.get(SuitParameterLabel.ComponentSlot);
  const digest = changed(SuitParameterLabel.ImageDigest);
  const size = changed(SuitParameterLabel.ImageSize);
  const uri = changed(SuitParameterLabel.Uri);
  const found: SuitAlternativeSummary = {};
  if (slot?.type === 'uint') found.slot = slot.value;
  if (digest?.type === 'digest') found.imageDigest = digest.digest;
  if (size?.type === 'uint') found.imageSize = size.value;
  if (uri?.type === 'text') found.uri = uri.value;
  if (found.imageDigest === undefined && found.imageSize === undefined && found.uri === undefined && (found.slot === undefined || slot === before.get(SuitParameterLabel.ComponentSlot))) return;
  const list = w.alternatives[i]!;
  const same = found.slot === undefined ? undefined : list.find((a) => a.slot === found.slot);
  if (same === undefined) {
    list.push(found);
    return;
  }
  // The first value a slot gets wins, as the first URI does outside try-each.
  if (same.imageDigest === undefined && found.imageDigest !== undefined) same.imageDigest = found.imageDigest;
  if (same.imageSize === undefined && found.imageSize !== undefined) same.imageSize = found.imageSize;
  if (same.uri === undefined && found.uri !== undefined) same.uri = found.uri;
}

function select(arg: number | true | number[], count: number): number[] {
  if (arg === true) return Array.from({ length: count }, (_, i) => i);
  const list = Array.isArray(arg) ? arg : [arg];
  return list.filter((i) => i < count);
}

/** Walks `seq`; returns the components selected at its end (what a try-each branch applied to). */
function walk(w: Walk, seq: SuitCommandSequence, params: Params, inTryEach: boolean, indices: number[]): number[] {
  let current = indices;
  for (const cmd of seq) {
    const a = cmd.arg;
    switch (cmd.code) {
      case SuitCommandCode.SetComponentIndex:
        if (a.kind === 'componentIndex') current = select(a.value, w.components);
        break;
      case SuitCommandCode.OverrideParameters:
        if (a.kind !== 'parameters') break;
        for (const i of current) {
          for (const p of a.parameters) {
            params[i]!.set(p.label, p.value);
            if (p.label === SuitParameterLabel.Uri && p.value.type === 'text') {
              if (!w.uris[i]!.includes(p.value.value)) w.uris[i]!.push(p.value.value);
              if (!inTryEach && w.firstUri[i] === undefined) w.firstUri[i] = p.value.value;
            }
          }
        }
        break;
      case SuitCommandCode.TryEach:
        if (a.kind !== 'tryEach') break;
        for (const branch of a.sequences) {
          const own = params.map((m) => new Map(m));
          const selected = walk(w, branch, own, true, current);
          for (const i of selected) recordAlternative(w, i, params[i]!, own[i]!);
        }
        break;
      case SuitCommandCode.RunSequence:
        if (a.kind === 'sequence') walk(w, a.sequence, params, inTryEach, current);
        break;
      case SuitCommandCode.VendorIdentifier:
      case SuitCommandCode.ClassIdentifier:
      case SuitCommandCode.DeviceIdentifier: {
        const [condition, label] =
          cmd.code === SuitCommandCode.VendorIdentifier
            ? (['vendor', SuitParameterLabel.VendorIdentifier] as const)
            : cmd.code === SuitCommandCode.ClassIdentifier
              ? (['class', SuitParameterLabel.ClassIdentifier] as const)
              : (['device', SuitParameterLabel.DeviceIdentifier] as const);
        for (const i of current) {
          const v = params[i]!.get(label);
          w.checks.push({ condition, component: i, value: v?.type === 'bytes' || v?.type === 'pen' ? v.bytes : undefined, inTryEach });
        }
        break;
      }
      default:
        break;
    }
  }
  return current;
}

/** The sequences in the order a recipient runs them for an update followed by a boot. */
function sequencesOf(m: SuitManifest): SuitCommandSequence[] {
  const out: SuitCommandSequence[] = [];
  if (m.common.sharedSequence) out.push(m.common.sharedSequence);
  if (m.payloadFetch?.value) out.push(m.payloadFetch.value);
  if (m.install?.value) out.push(m.install.value);
  if (m.validate) out.push(m.validate);
  if (m.load) out.push(m.load);
  if (m.invoke) out.push(m.invoke);
  return out;
}

function run(m: SuitManifest): { w: Walk; ids: SuitComponentId[] } {
  // A manifest without a component list addresses one component (index 0) with an empty id.
  const ids = m.common.components ?? [[]];
  const n = ids.length;
  const w: Walk = {
    components: n,
    top: Array.from({ length: n }, () => new Map()),
    uris: Array.from({ length: n }, () => []),
    firstUri: new Array<string | undefined>(n).fill(undefined),
    checks: [],
    alternatives: Array.from({ length: n }, () => []),
  };
  for (const seq of sequencesOf(m)) walk(w, seq, w.top, false, [0]);
  return { w, ids };
}

/** Per-component values (vendor, class, digest, size, URIs) of a decoded manifest. */
export function summarizeComponents(m: SuitManifest): SuitComponentSummary[] {
  const { w, ids } = run(m);
  return ids.map((id, index) => {
    const p = w.top[index]!;
    const s: SuitComponentSummary = { index, id, uris: w.uris[index]!, parameters: p, alternatives: w.alternatives[index]! };
    const vendor = p.get(SuitParameterLabel.VendorIdentifier);
    if (vendor?.type === 'bytes' || vendor?.type === 'pen') s.vendorId = vendor.bytes;
    const cls = p.get(SuitParameterLabel.ClassIdentifier);
    if (cls?.type === 'bytes') s.classId = cls.bytes;
    const dig = p.get(SuitParameterLabel.ImageDigest);
    if (dig?.type === 'digest') s.imageDigest = dig.digest;
    const size = p.get(SuitParameterLabel.ImageSize);
    if (size?.type === 'uint') s.imageSize = size.value;
    const uri = w.firstUri[index];
    if (uri !== undefined) s.uri = uri;
    return s;
  });
}

/** Every vendor/class/device identifier condition of the manifest with the value it checks. */
export function identifierChecks(m: SuitManifest): SuitIdentifierCheck[] {
  return run(m).w.checks;
}

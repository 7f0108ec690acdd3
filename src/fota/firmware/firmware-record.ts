/**
 * What a verified envelope says, as the repository keeps it: the `FirmwareRecord` (the stable
 * JSON of the CLI and REST) and the metadata row the store indexes.
 */
import type { StoredFirmwareRecord } from '../../store/types';
import { formatUuid, SuitTextComponentKey, SuitTextKey, type SuitComponentSummary, type SuitText, type SuitVerifiedEnvelope } from '../../suit';
import { firmwarePath } from './firmware-id';
import type { FirmwareImage, FirmwareRecord } from './types';

function numberOrText(v: number | bigint): number | string {
  if (typeof v === 'number') return v;
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

/** Bytes as lowercase hex (digests, component id parts). */
export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

function uuidOrHex(b: Uint8Array | undefined): string | null {
  if (b === undefined) return null;
  return b.length === 16 ? formatUuid(b) : hex(b);
}

function sameId(a: Uint8Array[], b: Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => Buffer.compare(Buffer.from(x), Buffer.from(b[i]!)) === 0);
}

/** The version a manifest's text announces for a component (suit-text-component-version), first language that has one. */
function versionOf(text: SuitText | undefined, component: SuitComponentSummary | undefined): string | null {
  if (!text) return null;
  for (const lang of text) {
    const c = (component && lang.components.find((x) => sameId(x.id, component.id))) ?? lang.components[0];
    const v = c?.fields.find(([k]) => k === SuitTextComponentKey.ComponentVersion)?.[1];
    if (v !== undefined) return v;
  }
  return null;
}

function descriptionOf(text: SuitText | undefined): string | null {
  for (const lang of text ?? []) {
    const v = lang.fields.find(([k]) => k === SuitTextKey.ManifestDescription)?.[1];
    if (v !== undefined) return v;
  }
  return null;
}

/** Digests of the images the repository holds for a record (may repeat when components share one). */
export function storedImageDigests(images: readonly FirmwareImage[]): string[] {
  return images.filter((i) => i.stored && i.digest !== null).map((i) => i.digest!);
}

/** The record of envelope `id` (`size` bytes), with the images planned for its components. */
export function firmwareRecordOf(id: string, size: number, verified: SuitVerifiedEnvelope, images: FirmwareImage[], addedAt: number): FirmwareRecord {
  const first = images[0];
  return {
    id,
    uri: firmwarePath(id),
    size,
    version: versionOf(verified.text, verified.components[0]),
    sequenceNumber: numberOrText(verified.sequenceNumber),
    vendorId: uuidOrHex(verified.components.find((c) => c.vendorId)?.vendorId),
    classId: uuidOrHex(verified.components.find((c) => c.classId)?.classId),
    description: descriptionOf(verified.text),
    images,
    payload: first?.stored && first.digest !== null ? { digest: first.digest, size: first.size ?? 0, uri: firmwarePath(first.digest) } : null,
    signers: verified.signers,
    addedAt: new Date(addedAt).toISOString(),
  };
}

/** The store's row for a record: the indexed columns, the files it keeps, the record itself as details. */
export function storedRowOf(record: FirmwareRecord, addedAt: number): StoredFirmwareRecord {
  return {
    id: record.id,
    size: record.size,
    sequenceNumber: String(record.sequenceNumber),
    ...(record.version === null ? {} : { version: record.version }),
    ...(record.vendorId === null ? {} : { vendorId: record.vendorId }),
    ...(record.classId === null ? {} : { classId: record.classId }),
    blobs: [...new Set(storedImageDigests(record.images))],
    details: record as unknown as Record<string, unknown>,
    addedAt,
  };
}

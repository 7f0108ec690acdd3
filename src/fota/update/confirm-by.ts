/**
 * What confirms an update per device class: the operator names a class by its SUIT class
 * ID (UUID) or by its class name (the name the class ID was derived from, UUIDv5 under the
 * manifest's vendor ID), and the choice applies to every job whose firmware's manifest
 * carries that class.
 */
import { classIdFor, formatUuid, parseUuid } from '../../suit';
import type { FirmwareRecord } from '../firmware/types';
import { CONFIRM_CHOICES, type ConfirmBy } from './machine';

/** Class ID (UUID) or class name → the check that confirms its updates. */
export type ConfirmByClass = Readonly<Record<string, ConfirmBy>>;

/** True for 'firmwareVersion', 'pkgVersion' or 'result'. */
export function isConfirmBy(v: unknown): v is ConfirmBy {
  return typeof v === 'string' && (CONFIRM_CHOICES as readonly string[]).includes(v);
}

/** The choice configured for the firmware's class, if any (a class ID key wins over a name). */
export function confirmForClass(byClass: ConfirmByClass | undefined, fw: Pick<FirmwareRecord, 'vendorId' | 'classId'>): ConfirmBy | undefined {
  if (byClass === undefined || fw.classId === null) return undefined;
  const classId = fw.classId.toLowerCase();
  let byName: ConfirmBy | undefined;
  for (const [key, choice] of Object.entries(byClass)) {
    if (key.toLowerCase() === classId) return choice;
    if (byName === undefined && fw.vendorId !== null && formatUuid(classIdFor(parseUuid(fw.vendorId), key)) === classId) byName = choice;
  }
  return byName;
}

/**
 * The SQLite table of the firmware repository (migration 4): one row per accepted SUIT
 * envelope. The bytes themselves live in files named by their SHA-256 in the data directory
 * (src/fota/firmware); the row holds what is listed and queried, plus the rest of the
 * repository's record as opaque JSON. Writes go through the store's group commit, each in a
 * savepoint of its own; reads run at once on committed data.
 */
import type Database from 'better-sqlite3';

import { Lwm2mFotaError } from '../errors';
import type { StoreRead } from './sqlite-device-tables';
import type { GroupWriter } from './sqlite-store';
import type { FirmwareStore, StoredFirmwareRecord } from './types';

interface FirmwareRow {
  id: string;
  size: number;
  sequence_number: string;
  version: string | null;
  vendor_id: string | null;
  class_id: string | null;
  blobs: string;
  details: string;
  added_at: number;
}

const COLUMNS = 'id, size, sequence_number, version, vendor_id, class_id, blobs, details, added_at';
// The firmware id pattern is defined in src/fota/firmware/firmware-id.ts; the store keeps a copy
// because it depends on nothing else in src/ (DESIGN, Layers).
const HEX_DIGEST = /^[0-9a-f]{64}$/;

const isString = (v: unknown): v is string => typeof v === 'string';

function check(r: StoredFirmwareRecord): string | undefined {
  if (r === null || typeof r !== 'object') return 'not an object';
  if (!isString(r.id) || !HEX_DIGEST.test(r.id)) return 'id must be a SHA-256 as 64 lowercase hex digits';
  if (!Number.isSafeInteger(r.size) || r.size < 0) return 'size must be a non-negative integer';
  if (!isString(r.sequenceNumber) || !/^\d+$/.test(r.sequenceNumber)) return 'sequenceNumber must be a decimal string';
  if (r.version !== undefined && !isString(r.version)) return 'version must be a string';
  if (r.vendorId !== undefined && !isString(r.vendorId)) return 'vendorId must be a string';
  if (r.classId !== undefined && !isString(r.classId)) return 'classId must be a string';
  if (!Array.isArray(r.blobs) || !r.blobs.every((b) => isString(b) && HEX_DIGEST.test(b))) return 'blobs must be SHA-256 hex digests';
  if (r.details === null || typeof r.details !== 'object' || Array.isArray(r.details)) return 'details must be an object';
  if (!Number.isSafeInteger(r.addedAt) || r.addedAt < 0) return 'addedAt must be epoch ms';
  return undefined;
}

function rowToRecord(row: FirmwareRow | undefined): StoredFirmwareRecord | undefined {
  if (row === undefined) return undefined;
  return {
    id: row.id,
    size: row.size,
    sequenceNumber: row.sequence_number,
    ...(row.version === null ? {} : { version: row.version }),
    ...(row.vendor_id === null ? {} : { vendorId: row.vendor_id }),
    ...(row.class_id === null ? {} : { classId: row.class_id }),
    blobs: JSON.parse(row.blobs) as string[],
    details: JSON.parse(row.details) as Record<string, unknown>,
    addedAt: row.added_at,
  };
}

/** The firmware store over an open, migrated database. */
export function createFirmwareTable(db: Database.Database, writer: GroupWriter, read: StoreRead): FirmwareStore {
  const put = writer.statement(
    `INSERT INTO firmware (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET size = excluded.size, sequence_number = excluded.sequence_number,
       version = excluded.version, vendor_id = excluded.vendor_id, class_id = excluded.class_id,
       blobs = excluded.blobs, details = excluded.details, added_at = excluded.added_at`,
  );
  const del = writer.statement('DELETE FROM firmware WHERE id = ?');
  const get = db.prepare<[string], FirmwareRow>(`SELECT ${COLUMNS} FROM firmware WHERE id = ?`);
  const list = db.prepare<[], FirmwareRow>(`SELECT ${COLUMNS} FROM firmware ORDER BY added_at, rowid`);

  return {
    put(r) {
      const bad = check(r);
      if (bad !== undefined) return Promise.reject(new Lwm2mFotaError('ERR_STORE_WRITE', `invalid firmware record: ${bad}`, { context: { firmware: String(r?.id) } }));
      let args: unknown[];
      try {
        // Serialised now: later mutation of the record does not leak in.
        args = [r.id, r.size, r.sequenceNumber, r.version ?? null, r.vendorId ?? null, r.classId ?? null, JSON.stringify(r.blobs), JSON.stringify(r.details), r.addedAt];
      } catch (err) {
        return Promise.reject(new Lwm2mFotaError('ERR_STORE_WRITE', `invalid firmware record: ${(err as Error).message}`, { cause: err }));
      }
      return writer.write<void>(put, args, 'none');
    },
    delete: (id) => writer.write<boolean>(del, [String(id)], 'changed'),
    get: (id) => read(() => rowToRecord(get.get(id))),
    list: () => read(() => list.all().map((row) => rowToRecord(row) as StoredFirmwareRecord)),
  };
}

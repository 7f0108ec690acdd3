/**
 * The SQLite tables of device management (migration 3): live observations and queued
 * device requests. Writes go through the store's group commit (`writer`, on the writer
 * thread), each in a savepoint of its own; reads run at once on committed data (`read`).
 */
import type Database from 'better-sqlite3';

import { Lwm2mFotaError } from '../errors';
import type { GroupWriter } from './sqlite-store';
import type {
  DeviceRequestRecord,
  DeviceRequestState,
  DeviceRequestStore,
  ObservationRecord,
  ObservationStore,
} from './types';

/** Runs `fn` at once on committed data (ERR_STORE_READ / ERR_STORE_CLOSED as the store reports them). */
export type StoreRead = <T>(fn: () => T) => Promise<T>;

interface ObservationRow {
  token: string;
  endpoint: string;
  registration_id: string;
  kind: string;
  paths: string;
  format: number | null;
  created_at: number;
}

interface RequestRow {
  id: string;
  endpoint: string;
  state: string;
  request: string;
  attempts: number;
  result: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
}

const OBS_COLUMNS = 'token, endpoint, registration_id, kind, paths, format, created_at';
const REQ_COLUMNS = 'id, endpoint, state, request, attempts, result, error, created_at, updated_at';
const STATES: readonly DeviceRequestState[] = ['queued', 'sending', 'completed', 'failed', 'cancelled'];

function invalid(what: string, message: string, endpoint: unknown): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_STORE_WRITE', `invalid ${what}: ${message}`, { context: { endpoint: String(endpoint) } });
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function checkObservation(r: ObservationRecord): string | undefined {
  if (r === null || typeof r !== 'object') return 'not an object';
  if (!isString(r.token) || !/^[0-9a-f]{0,16}$/.test(r.token)) return 'token must be 0..8 bytes as lowercase hex';
  if (!isString(r.endpoint) || r.endpoint.length === 0) return 'endpoint must be a non-empty string';
  if (!isString(r.registrationId)) return 'registrationId must be a string';
  if (r.kind !== 'single' && r.kind !== 'composite') return "kind must be 'single' or 'composite'";
  if (!Array.isArray(r.paths) || r.paths.length === 0 || !r.paths.every(isString)) return 'paths must be a non-empty array of strings';
  if (r.kind === 'single' && r.paths.length !== 1) return 'a single observation has exactly one path';
  if (r.format !== undefined && !(Number.isInteger(r.format) && r.format >= 0 && r.format <= 65535)) return 'format must be a content-format number';
  if (!isTime(r.createdAt)) return 'createdAt must be epoch ms';
  return undefined;
}

function checkRequest(r: DeviceRequestRecord): string | undefined {
  if (r === null || typeof r !== 'object') return 'not an object';
  if (!isString(r.id) || r.id.length === 0) return 'id must be a non-empty string';
  if (!isString(r.endpoint) || r.endpoint.length === 0) return 'endpoint must be a non-empty string';
  if (!STATES.includes(r.state)) return `state must be one of ${STATES.join(', ')}`;
  if (r.request === null || typeof r.request !== 'object' || !isString(r.request.operation)) return 'request must be an object with an operation';
  if (!Number.isSafeInteger(r.attempts) || r.attempts < 0) return 'attempts must be a non-negative integer';
  if (r.result !== undefined && (r.result === null || typeof r.result !== 'object')) return 'result must be an object';
  if (r.error !== undefined && (r.error === null || !isString(r.error.code) || !isString(r.error.message))) return 'error must be { code, message }';
  if (!isTime(r.createdAt) || !isTime(r.updatedAt)) return 'createdAt and updatedAt must be epoch ms';
  return undefined;
}

function rowToObservation(row: ObservationRow | undefined): ObservationRecord | undefined {
  if (row === undefined) return undefined;
  return {
    token: row.token,
    endpoint: row.endpoint,
    registrationId: row.registration_id,
    kind: row.kind === 'composite' ? 'composite' : 'single',
    paths: JSON.parse(row.paths) as string[],
    ...(row.format === null ? {} : { format: row.format }),
    createdAt: row.created_at,
  };
}

function rowToRequest(row: RequestRow | undefined): DeviceRequestRecord | undefined {
  if (row === undefined) return undefined;
  return {
    id: row.id,
    endpoint: row.endpoint,
    state: row.state as DeviceRequestState,
    request: JSON.parse(row.request) as DeviceRequestRecord['request'],
    attempts: row.attempts,
    ...(row.result === null ? {} : { result: JSON.parse(row.result) as Record<string, unknown> }),
    ...(row.error === null ? {} : { error: JSON.parse(row.error) as { code: string; message: string } }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function clamp(limit: number): number {
  return Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : -1;
}

/** The observation and device-request stores over an open, migrated database. */
export function createDeviceTables(
  db: Database.Database,
  writer: GroupWriter,
  read: StoreRead,
): { observations: ObservationStore; requests: DeviceRequestStore } {
  const obsPut = writer.statement(
    `INSERT INTO observations (${OBS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (token) DO UPDATE SET endpoint = excluded.endpoint, registration_id = excluded.registration_id,
       kind = excluded.kind, paths = excluded.paths, format = excluded.format, created_at = excluded.created_at`,
  );
  const obsDelete = writer.statement('DELETE FROM observations WHERE token = ?');
  const obsDeleteByEndpoint = writer.statement('DELETE FROM observations WHERE endpoint = ?');
  const obsGet = db.prepare<[string], ObservationRow>(`SELECT ${OBS_COLUMNS} FROM observations WHERE token = ?`);
  const obsList = db.prepare<[], ObservationRow>(`SELECT ${OBS_COLUMNS} FROM observations ORDER BY created_at, rowid`);
  const obsByEndpoint = db.prepare<[string], ObservationRow>(`SELECT ${OBS_COLUMNS} FROM observations WHERE endpoint = ? ORDER BY created_at, rowid`);

  // Upsert by id; the WHERE keeps a request's endpoint fixed (no row changes otherwise).
  const reqPut = writer.statement(
    `INSERT INTO device_requests (${REQ_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET state = excluded.state, request = excluded.request, attempts = excluded.attempts,
       result = excluded.result, error = excluded.error, created_at = excluded.created_at, updated_at = excluded.updated_at
     WHERE device_requests.endpoint = excluded.endpoint`,
  );
  const reqGet = db.prepare<[string], RequestRow>(`SELECT ${REQ_COLUMNS} FROM device_requests WHERE id = ?`);
  const reqPending = db.prepare<[string], RequestRow>(
    `SELECT ${REQ_COLUMNS} FROM device_requests WHERE endpoint = ? AND state IN ('queued', 'sending') ORDER BY seq`,
  );
  const reqPendingEndpoints = db
    .prepare<[], string>(`SELECT DISTINCT endpoint FROM device_requests WHERE state IN ('queued', 'sending') ORDER BY endpoint`)
    .pluck();
  const reqByEndpoint = db.prepare<[string, number], RequestRow>(
    `SELECT ${REQ_COLUMNS} FROM device_requests WHERE endpoint = ? ORDER BY seq DESC LIMIT ?`,
  );

  const observations: ObservationStore = {
    put(r) {
      const bad = checkObservation(r);
      if (bad !== undefined) return Promise.reject(invalid('observation', bad, r?.endpoint));
      const args = [r.token, r.endpoint, r.registrationId, r.kind, JSON.stringify(r.paths), r.format ?? null, r.createdAt];
      return writer.write<void>(obsPut, args, 'none');
    },
    delete: (token) => writer.write<boolean>(obsDelete, [String(token)], 'changed'),
    deleteByEndpoint: (endpoint) => writer.write<number>(obsDeleteByEndpoint, [String(endpoint)], 'changes'),
    get: (token) => read(() => rowToObservation(obsGet.get(token))),
    list: () => read(() => obsList.all().map((row) => rowToObservation(row) as ObservationRecord)),
    listByEndpoint: (endpoint) => read(() => obsByEndpoint.all(endpoint).map((row) => rowToObservation(row) as ObservationRecord)),
  };

  const requests: DeviceRequestStore = {
    put(r) {
      const bad = checkRequest(r);
      if (bad !== undefined) return Promise.reject(invalid('device request', bad, r?.endpoint));
      let args: unknown[];
      try {
        // Serialised now: later mutation of the record does not leak in, and a value that
        // cannot be stored fails alone.
        args = [
          r.id,
          r.endpoint,
          r.state,
          JSON.stringify(r.request),
          r.attempts,
          r.result === undefined ? null : JSON.stringify(r.result),
          r.error === undefined ? null : JSON.stringify({ code: r.error.code, message: r.error.message }),
          r.createdAt,
          r.updatedAt,
        ];
      } catch (err) {
        return Promise.reject(invalid('device request', (err as Error).message, r.endpoint));
      }
      return writer.write<void>(reqPut, args, 'none', () =>
        new Lwm2mFotaError('ERR_STORE_WRITE', `device request ${r.id} belongs to another endpoint`, {
          context: { endpoint: r.endpoint, requestId: r.id },
        }),
      );
    },
    get: (id) => read(() => rowToRequest(reqGet.get(id))),
    listPending: (endpoint) => read(() => reqPending.all(endpoint).map((row) => rowToRequest(row) as DeviceRequestRecord)),
    pendingEndpoints: () => read(() => reqPendingEndpoints.all()),
    listByEndpoint: (endpoint, limit = 100) =>
      read(() => reqByEndpoint.all(endpoint, clamp(limit)).map((row) => rowToRequest(row) as DeviceRequestRecord)),
  };

  return { observations, requests };
}

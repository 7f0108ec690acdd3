/** Storage: the contracts every backend implements, and the embedded SQLite default. */
export type {
  DeviceRequestRecord,
  DeviceRequestState,
  DeviceRequestStore,
  EventData,
  EventLog,
  EventType,
  FirmwareStore,
  NewEvent,
  ObservationRecord,
  ObservationStore,
  RegistrationRecord,
  RegistrationStore,
  SqliteStoreOptions,
  Store,
  StoredEvent,
  StoredFirmwareRecord,
  UpdateJobRecord,
  UpdateJobStore,
} from './types';
export { openSqliteStore, SqliteStore } from './sqlite-store';
export { SCHEMA_VERSION } from './migrations';
export type { Migration } from './migrations';
export { lockDataDir, ensureDirectory, LOCK_FILE, HOLDER_FILE } from './data-lock';
export type { DataDirLock, DataDirHolder } from './data-lock';

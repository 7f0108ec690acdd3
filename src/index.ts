/**
 * The public API of lwm2m-fota: the server, the SUIT library, the device emulator, and the
 * types they take and return. Everything else under src/ is internal.
 */
export { Lwm2mFotaError, isLwm2mFotaError } from './errors';
export type { ErrorCode, ErrorContext } from './errors';

export { createServer } from './server';
export type { ServerOptions, Lwm2mFotaServer } from './server';
export type { StoredEvent, RegistrationRecord } from './store/types';
export type {
  EventInput,
  EventJson,
  EventMap,
  EventName,
  TypedEvent,
  UpdateDeliveryMethod,
  UpdateEventName,
  UpdateFailureReason,
  UpdateJobStateName,
} from './events';

export {
  createManifest,
  signEnvelope,
  verifyEnvelope,
  inspectUnverified,
  describeEnvelope,
  generateKeyPair,
  loadPublicKey,
  loadPrivateKey,
  parsePolicy,
  uuidV5,
  vendorIdFor,
  classIdFor,
  resolveUriReference,
} from './suit';
export type { SuitPolicy, SuitVerifiedEnvelope, SuitPublicKey, SuitPrivateKey, CreateManifestOptions, CreatedManifest } from './suit';

export { createDevice, createFleet } from './device';
export type { DeviceOptions, EmulatedDevice, Fleet, FleetOptions } from './device';

// What the command line needs besides the SUIT library and the server itself, so that it
// stays on this side of the public API: the JSON views of the REST API it reads, where the
// server keeps its API token, how a firmware id is written, the notification attributes of
// `attributes`, the content-format names of `--format`, and the emulator's option grammar for `simulate`.
export type {
  DeviceView,
  DeviceRequestView,
  ObservationView,
  EventView,
  FirmwareView,
  FirmwareImageView,
  FirmwareImageLocation,
  FirmwareListView,
  FirmwareRemovedView,
  UpdateJobView,
  UpdateHistoryView,
} from './api/views';
export { TOKEN_ENV, TOKEN_FILE, readTokenFile } from './api/token';
export { FIRMWARE_ID_MIN_PREFIX, isFirmwareId, isFirmwareIdOrPrefix } from './fota/firmware';
export { parseAttributeAssignments } from './lwm2m/server/requests/attributes';
export type { NotificationAttributes } from './lwm2m/server/requests/attributes';
export { parseFormat } from './lwm2m/server/requests/formats';
export { DEVICE_EVENT_NAMES, formatFaultSpec, parseDuration, parseFaultSpec, parseProbability } from './device';
export type { DeviceEvent, DeviceEventName, DeviceFaults } from './device';

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

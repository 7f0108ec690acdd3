/** The firmware repository: verified SUIT envelopes and images, stored by digest, served at /fw/<digest>. */
export { FirmwareRepository, openFirmwareRepository } from './repository';
export { repositoryDigestOf } from './add-pipeline';
export type { FirmwareEventSink, FirmwareRepositoryOptions } from './repository';
export type { FirmwareRejection } from './add-pipeline';
export type { FirmwareCacheStats } from './shared-file-cache';
export type { FirmwareImage, FirmwareImageLocation, FirmwareRecord } from './types';
export { attachFirmwareRoute, firmwareEtag, firmwareRequestHandler, type FirmwareBlockServed } from './coap-route';
export {
  FIRMWARE_ID_MIN_PREFIX,
  FIRMWARE_ID_PATTERN,
  FIRMWARE_PATH_PREFIX,
  FIRMWARE_ROUTE,
  firmwarePath,
  isFirmwareId,
  isFirmwareIdOrPrefix,
  resolveFirmwareId,
} from './firmware-id';
export { loadTrustPolicy, type TrustOptions } from './trust';
export { sha256Hex } from './blob-files';

/** The firmware update machine: pure transitions, resume rules, Update Result meanings, delivery choice. */
// The machine's own index (machine/index.ts) is the list of what it offers.
export * from './machine';
export {
  explainReason,
  explainUpdateResult,
  failureReasonFor,
  FirmwareState,
  firmwareStateName,
  isFailureResult,
  isFirmwareState,
  isTransient,
  isTransientReason,
  isUpdateResult,
  UpdateResult,
} from './update-result';
export type { DeviceFailureReason, FailureReason, FailureResult, ServerFailureReason } from './update-result';
export { chooseDelivery, DeliveryMethod, FirmwareProtocol } from './delivery';
export type { DeliveryChoice, DeliveryMethodName, DeliveryOptions, DeviceDeliverySupport, PackageScheme } from './delivery';
export { confirmForClass, isConfirmBy } from './confirm-by';
export type { ConfirmByClass } from './confirm-by';
export { JobRunner, isRequestEffect } from './runner';
export type { JobRunnerOptions, JobRunnerPort, RequestEffect } from './runner';
export { UpdateService } from './service';
export { DevicePort, ProgressThrottle } from './device-port';
export type { DevicePortOptions } from './device-port';
export type { FirmwareCatalog, StartUpdateOptions, UpdateConfigOverrides, UpdateServiceOptions } from './service';
export { firmwareFileUri, packageHostFor } from './package-uri';

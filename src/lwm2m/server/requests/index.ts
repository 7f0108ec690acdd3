/** LwM2M operations: requests and responses as values, negotiation, observations, queue mode, Send. */
export * from './types';
export * from './attributes';
export * from './node-json';
export * from './json';
export * from './formats';
export { buildCoapRequest, decodeCoapResponse, validateRequest, uriPath, readKind, COMPOSITE_FORMATS, checkExecuteArguments } from './build';
export { deviceContext, type DeviceContext } from './device-context';
export { DeviceClient, type DeviceCapabilities, type DeviceClientOptions } from './device-client';
export { ObservationService, type Notification, type ObservationEndReason } from '../observations/observations';
export { DeviceManagement, type DeviceManagementOptions, type SendReport, type SubmitResult } from './device-management';

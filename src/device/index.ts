/**
 * A constrained LwM2M device in TypeScript (objects /1, /3, /5; SUIT verification before
 * download; A/B slots; faults on demand), alone or as a fleet — for tests, benchmarks and
 * `lwm2m-fota simulate`.
 *
 * @example
 * const device = await createDevice({ server: 'coap://[::1]:5683', endpoint: 'dev-1',
 *   trustedKeys: [{ key: loadPublicKey(pem) }], vendorDomain: 'example.com', className: 'sensor',
 *   firmwareVersion: '1.0.0', faults: parseFaultSpec('drop=5%,fail-boot') });
 * await device.start();
 * const e = await device.waitFor('updated', undefined, 60_000);
 */
export { createDevice, devicePolicy, defaultDeviceModel, objectVersionsFor } from './device';
export { createFleet, fleetEndpointName, DEVICE_EVENT_NAMES, type Fleet, type FleetOptions } from './fleet';
export { parseFaultSpec, formatFaultSpec, parseProbability, parseDuration, seededRandom, deviceSeed, FaultState, ONE_SHOT_FAULTS, type DeviceFaults, type OneShotFault } from './faults';
export { FirmwareState, UpdateResult, DeliveryMethod, FirmwareProtocol, FirmwareResource } from './constants';
export { rawImageVersion, resultForSuitError } from './firmware-object';
export { DeviceChannel, type RadioMode, type RadioStats } from './device-channel';
export { parseCoapUri } from './uri';
export type * from './types';

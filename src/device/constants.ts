/**
 * Numbers the device emulator uses: object 5's come from the LwM2M layer's single
 * definition.
 */
export { FirmwareState, UpdateResult, FirmwareProtocol, DeliveryMethod, FirmwareResource } from '../lwm2m/core/model/firmware-object';

/** Object ids the device serves. */
export const ObjectId = { Server: 1, Device: 3, Firmware: 5 } as const;

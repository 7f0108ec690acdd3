/**
 * The numbers of the LwM2M Firmware Update object (/5): State, Update Result, protocols,
 * delivery methods and resource ids (OMA-TS-LightweightM2M_Core, object 5; codes 10 and 11
 * and resources 10–13 since object version 1.1). One definition for the server's update
 * machine and the device emulator.
 */

/** /5/0/3 State. */
export const FirmwareState = {
  Idle: 0,
  Downloading: 1,
  Downloaded: 2,
  Updating: 3,
} as const;
export type FirmwareState = (typeof FirmwareState)[keyof typeof FirmwareState];

/** /5/0/5 Update Result (10 and 11 since object 5 version 1.1). */
export const UpdateResult = {
  Initial: 0,
  Success: 1,
  NotEnoughFlash: 2,
  OutOfMemory: 3,
  ConnectionLost: 4,
  IntegrityCheckFailed: 5,
  UnsupportedPackage: 6,
  InvalidUri: 7,
  UpdateFailed: 8,
  UnsupportedProtocol: 9,
  Cancelled: 10,
  Deferred: 11,
} as const;
export type UpdateResult = (typeof UpdateResult)[keyof typeof UpdateResult];

/** /5/0/8 Firmware Update Protocol Support. */
export const FirmwareProtocol = { Coap: 0, Coaps: 1, Http: 2, Https: 3, CoapTcp: 4, CoapTls: 5 } as const;

/** /5/0/9 Firmware Update Delivery Method. */
export const DeliveryMethod = { Pull: 0, Push: 1, Both: 2 } as const;
export type DeliveryMethod = (typeof DeliveryMethod)[keyof typeof DeliveryMethod];

/** Resource ids of object 5. */
export const FirmwareResource = {
  Package: 0,
  PackageUri: 1,
  Update: 2,
  State: 3,
  UpdateResult: 5,
  PkgName: 6,
  PkgVersion: 7,
  ProtocolSupport: 8,
  DeliveryMethod: 9,
  Cancel: 10,
  Severity: 11,
  LastStateChangeTime: 12,
  MaximumDeferPeriod: 13,
} as const;

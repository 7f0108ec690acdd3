/**
 * The numbers of the LwM2M Firmware Update object (/5) that the update machine reads, and
 * what they mean to an operator.
 *
 * Values from OMA-TS-LightweightM2M_Core (object 5, resources 3 and 5), LwM2M 1.1; codes
 * 10 and 11 exist since object version 1.1. See REFERENCE.md, "LwM2M Firmware Update
 * object (/5)".
 */

import { FirmwareState, UpdateResult } from '../../lwm2m/core/model/firmware-object';

export { FirmwareState, UpdateResult };

/** The Update Results that report a failure (2–11). */
export type FailureResult = Exclude<UpdateResult, 0 | 1>;

/** Why a job failed, as the device reported it through Update Result 2–11. */
export type DeviceFailureReason =
  | 'notEnoughFlash' // 2
  | 'outOfMemory' // 3
  | 'connectionLost' // 4
  | 'integrityCheckFailed' // 5
  | 'unsupportedPackage' // 6
  | 'invalidUri' // 7
  | 'updateFailed' // 8
  | 'unsupportedProtocol' // 9
  | 'cancelledByDevice' // 10
  | 'deferred'; // 11

/** Why a job failed, as the server concluded it. */
export type ServerFailureReason =
  | 'timeout' // a waiting state's deadline passed
  | 'lostContact' // requests went unanswered, or the device de-registered mid-job
  | 'deviceReset' // the device went back to Idle with Result 0 during the download (it rebooted)
  | 'versionMismatch' // /3/0/3 after the update is not the version the manifest announced
  | 'unconfirmed' // the expected version runs, but Update Result never became 1
  | 'deliveryRejected' // the device answered 4.xx/5.xx to the Package URI write or a Package block
  | 'updateRejected' // the device answered 4.xx/5.xx to Execute /5/0/2
  | 'unsupportedDelivery' // no delivery method and URI scheme both sides support
  | 'unknownResult' // an Update Result outside 0–11
  | 'retriesExhausted' // a transient failure on the last allowed attempt
  | 'deviceUnreachable' // the device's registration lapsed and it did not come back before the contact timeout
  | 'notRebooted' // the device accepted Update, stayed in Updating (State 3) and never restarted
  | 'stubFirmwareObject' // the device acknowledged the whole delivery but its State never moved
  | 'cancelled'; // the operator cancelled the job

export type FailureReason = DeviceFailureReason | ServerFailureReason;

const RESULT_REASONS: Readonly<Record<FailureResult, DeviceFailureReason>> = {
  2: 'notEnoughFlash',
  3: 'outOfMemory',
  4: 'connectionLost',
  5: 'integrityCheckFailed',
  6: 'unsupportedPackage',
  7: 'invalidUri',
  8: 'updateFailed',
  9: 'unsupportedProtocol',
  10: 'cancelledByDevice',
  11: 'deferred',
};

const RESULT_EXPLANATIONS: Readonly<Record<UpdateResult, string>> = {
  0: 'No download or update has finished yet: the initial value (Update Result 0).',
  1: 'The firmware was updated successfully (Update Result 1).',
  2: 'The device does not have enough flash storage for the firmware package (Update Result 2).',
  3: 'The device ran out of RAM while downloading the firmware package (Update Result 3).',
  4: 'The device lost its connection while downloading the firmware package (Update Result 4); the download is retried.',
  5: 'The package failed the device\'s integrity check: the signature or a digest of the SUIT envelope or image did not verify (Update Result 5).',
  6: 'The device does not accept this package: wrong format, vendor or device class, an unknown manifest command, or a sequence number not above the installed one (Update Result 6).',
  7: 'The device could not use the Package URI: malformed, unreachable or refused (Update Result 7).',
  8: 'Installing the new firmware failed on the device (Update Result 8).',
  9: 'The device does not support the protocol of the Package URI (Update Result 9).',
  10: 'The download or update was cancelled on the device (Update Result 10).',
  11: 'The device deferred the update and did not install it (Update Result 11); start a new update when the device is ready.',
};

/**
 * What was delivered, for the explanations that depend on it: a payload-only delivery
 * hands the device its own package format (no SUIT envelope), so its integrity and
 * format checks are its own, not SUIT's.
 */
export interface ResultContext {
  readonly payloadOnly?: boolean;
}

const PAYLOAD_ONLY_EXPLANATIONS: Readonly<Partial<Record<UpdateResult, string>>> = {
  5: 'The image failed the device\'s own integrity check of its package format (a CRC, digest or signature the device checks; the image was delivered without its SUIT envelope) (Update Result 5).',
  6: 'The device does not accept this image: not in a package format it supports, or not for this device (the image was delivered without its SUIT envelope) (Update Result 6).',
};

/** True for an integer that is a defined Update Result (0–11). */
export function isUpdateResult(code: number): code is UpdateResult {
  return Number.isInteger(code) && code >= 0 && code <= 11;
}

/** True for an Update Result that reports a failure (2–11). */
export function isFailureResult(code: number): code is FailureResult {
  return isUpdateResult(code) && code >= 2;
}

/** True for an integer that is a defined State (0–3). */
export function isFirmwareState(value: number): value is FirmwareState {
  return Number.isInteger(value) && value >= 0 && value <= 3;
}

const STATE_NAMES = ['Idle', 'Downloading', 'Downloaded', 'Updating'] as const;

/** 'Downloaded' for 2; 'State 7 (undefined)' for values outside 0–3. */
export function firmwareStateName(value: number): string {
  return isFirmwareState(value) ? STATE_NAMES[value] : `State ${value} (undefined)`;
}

/**
 * One operator-facing sentence for an Update Result, including codes outside 0–11 that
 * devices send anyway.
 *
 * `delivery` says what the device was given: for a payload-only delivery the results that
 * judge the package (5, 6) speak of the device's own format, not of SUIT.
 *
 * @example explainUpdateResult(5) // 'The package failed the device\'s integrity check: …'
 */
export function explainUpdateResult(code: number, delivery: ResultContext = {}): string {
  if (delivery.payloadOnly === true) {
    const own = PAYLOAD_ONLY_EXPLANATIONS[code as UpdateResult];
    if (own !== undefined) return own;
  }
  if (isUpdateResult(code)) return RESULT_EXPLANATIONS[code];
  return `The device reported Update Result ${code}, which object 5 does not define (0–11); treated as a failure.`;
}

/**
 * The failure reason for an Update Result: 2–11 map one to one, other non-zero codes to
 * 'unknownResult'; 0 and 1 are not failures (undefined).
 */
export function failureReasonFor(code: FailureResult): DeviceFailureReason;
export function failureReasonFor(code: number): FailureReason | undefined;
export function failureReasonFor(code: number): FailureReason | undefined {
  if (code === UpdateResult.Initial || code === UpdateResult.Success) return undefined;
  if (isFailureResult(code)) return RESULT_REASONS[code];
  return 'unknownResult';
}

/**
 * True when a failure with this Update Result is worth retrying: only 4 (connection lost
 * during download). Every other code describes the package, the device or a refusal, and
 * a retry would end the same way (DESIGN.md: "configuration errors fail at once").
 */
export function isTransient(code: number): boolean {
  return code === UpdateResult.ConnectionLost;
}

const TRANSIENT_REASONS: ReadonlySet<FailureReason> = new Set<FailureReason>(['connectionLost', 'timeout', 'lostContact', 'deviceReset']);

/** True for the reasons that are retried with backoff: 'connectionLost' (4), 'timeout', 'lostContact', 'deviceReset'. */
export function isTransientReason(reason: FailureReason): boolean {
  return TRANSIENT_REASONS.has(reason);
}

const REASON_EXPLANATIONS: Readonly<Record<ServerFailureReason, string>> = {
  timeout: 'The device did not reach the next step in time.',
  lostContact: 'The server lost contact with the device (requests unanswered, or it de-registered).',
  deviceReset: 'The device went back to Idle with Update Result 0 during the download (it probably rebooted); the download is restarted.',
  versionMismatch: 'After the update the device reports a firmware version (/3/0/3) other than the one the manifest announced.',
  unconfirmed: 'The device runs the expected firmware version but never reported Update Result 1 (success).',
  deliveryRejected: 'The device refused the firmware delivery (it answered an error to the Package URI write or a Package block).',
  updateRejected: 'The device refused to execute Update (/5/0/2); it was probably not in state Downloaded.',
  unsupportedDelivery: 'The device supports no delivery method and URI scheme that the server offers.',
  unknownResult: 'The device reported an Update Result that object 5 does not define.',
  retriesExhausted: 'Every allowed attempt failed.',
  deviceUnreachable: 'The device went silent: its registration expired (or it de-registered) and it did not contact the server again before the contact timeout.',
  notRebooted: 'The device accepted Update but stayed in State 3 (Updating) and never restarted; no new delivery is sent to a device in Updating.',
  stubFirmwareObject:
    'The device acknowledged the whole delivery but its State (/5/0/3) never moved: its Firmware Update object acknowledges writes without acting on them (a stub).',
  cancelled: 'The operator cancelled the update.',
};

/**
 * A generic operator-facing sentence for any failure reason. The machine builds more
 * specific ones (with the code, timer or versions involved) into the job's `explanation`.
 */
export function explainReason(reason: FailureReason): string {
  const device = (Object.keys(RESULT_REASONS) as unknown as FailureResult[]).find((k) => RESULT_REASONS[k] === reason);
  if (device !== undefined) return RESULT_EXPLANATIONS[Number(device) as FailureResult];
  return REASON_EXPLANATIONS[reason as ServerFailureReason];
}

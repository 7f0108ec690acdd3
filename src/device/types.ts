/** The public types of the device emulator: options, events, state. */
import type { TransmissionParameters } from '../coap/types';
import type { ContentFormatRegistry } from '../lwm2m/core/content-formats';
import type { ModelRegistry } from '../lwm2m/core/model';
import type { SuitPolicy, SuitTrustedKey } from '../suit';
import type { FirmwareState, UpdateResult } from './constants';
import type { RadioStats } from './device-channel';
import type { DeviceFaults } from './faults';

export type DeviceLwm2mVersion = '1.0' | '1.1' | '1.2';
export type DeviceBinding = 'U' | 'UQ';

/** What the device expects to receive: a SUIT envelope (default) or a bare image in its own format. */
export type PackageFormat = 'suit' | 'raw';

export interface DeviceOptions {
  /** The LwM2M server, e.g. "coap://[::1]:5683". */
  readonly server: string;
  /** Endpoint client name (ep). */
  readonly endpoint: string;
  /** Default '1.1'. */
  readonly lwm2mVersion?: DeviceLwm2mVersion;
  /** U (default) or UQ (queue mode: the device sleeps between contacts). */
  readonly binding?: DeviceBinding;
  /** Registration lifetime in seconds (default 300). */
  readonly lifetime?: number;

  /** Trust anchors: the keys whose signature the device accepts. Share one array across a fleet. */
  readonly trustedKeys?: readonly SuitTrustedKey[];
  /**
   * A whole verification policy instead (signer requirements, algorithms …); its
   * `minSequenceNumber` is ignored: the device always asks for more than its current one.
   * Vendor and class from `vendorDomain` / `className` are added when the policy names none.
   */
  readonly policy?: SuitPolicy;
  /** The device's vendor domain: vendor ID = UUIDv5(DNS, domain). */
  readonly vendorDomain?: string;
  /** The device's class name: class ID = UUIDv5(vendor ID, name). */
  readonly className?: string;

  /** The running firmware's version (/3/0/3). Default "1.0.0". */
  readonly firmwareVersion?: string;
  /** The SUIT sequence number of the running firmware (default 0); a manifest must be above it. */
  readonly sequenceNumber?: number;
  /** Default 'suit'. */
  readonly packageFormat?: PackageFormat;
  /** Raw images only: the SHA-256 the image must have (given out of band); absent: any image is taken. */
  readonly rawImageDigest?: Buffer;
  /** Raw images only: the version the image carries (default: read from the image, see `rawImageVersion`). */
  readonly rawVersion?: string | ((image: Buffer) => string | undefined);

  /** Block size for Block2 downloads and the largest Block1 block taken (16..1024, default 256). */
  readonly blockSize?: number;
  /**
   * How the device answers a pushed Block1 block larger than `blockSize`: 'late' (default)
   * takes it and asks for its size in the 2.31 (RFC 7959 §2.5); 'too-large' refuses it with
   * 4.13 and a Block1 option of its size, so the server restarts smaller (RFC 7959 §2.9.3).
   */
  readonly block1Negotiation?: 'late' | 'too-large';
  /** Capacity of one flash slot in bytes (default 1 MiB). */
  readonly flashSize?: number;
  /** /5/0/9: 'pull', 'push' or 'both' (default). */
  readonly deliveryMethod?: 'pull' | 'push' | 'both';
  /** How long a reboot keeps the device silent (ms, default 1000). */
  readonly rebootDelayMs?: number;
  /** How long installing takes before the reboot (ms, default 100). */
  readonly installDelayMs?: number;
  /** Queue mode: how long the device stays awake after its last exchange (ms; default 93 s = MAX_TRANSMIT_WAIT). */
  readonly queueWindowMs?: number;
  /** How long the connection-lost fault keeps the radio off (ms, default 2000). */
  readonly outageMs?: number;
  /** Send notifications as CON (default) or NON. */
  readonly notifications?: 'con' | 'non';

  /** Faults to inject. */
  readonly faults?: DeviceFaults;
  /** Seed for the packet-drop randomness (default: from the endpoint name). */
  readonly seed?: number;

  /** Local address to bind (default '::', or '0.0.0.0' for an IPv4 server). */
  readonly host?: string;
  /** Local port (default 0: any). */
  readonly port?: number;
  readonly transmission?: Partial<TransmissionParameters>;

  /** /3/0/0 (default "lwm2m-fota"). */
  readonly manufacturer?: string;
  /** /3/0/1 (default: the class name, or "emulator"). */
  readonly modelNumber?: string;
  /** /3/0/2 (default: the endpoint name). */
  readonly serialNumber?: string;

  /** The object model (default: the shipped objects, loaded once per process). */
  readonly model?: ModelRegistry;
  /**
   * The content formats the device reads and writes, and announces in `ct` (1.1+), e.g.
   * `[11543]` for a device that speaks only LwM2M JSON; it answers a read without Accept in
   * the first. Default: its version's formats.
   */
  readonly contentFormats?: readonly number[];
  /** Announce the root link as a bare `</>;ct=…` instead of `</>;rt="oma.lwm2m";ct=…` (1.1+). */
  readonly bareRootLink?: boolean;
  /** Content-format codecs (default: one registry shared by every device in the process). */
  readonly formats?: ContentFormatRegistry;
  /** First registration retry delay (ms, default 1000; doubles up to 60 s). */
  readonly registrationRetryMs?: number;
  /**
   * Strict registration: ignore (drop unanswered) every request from the server that
   * arrives while a Register or an Update of this device waits for its answer — Wakaama
   * ignores management requests while its registration is pending — so a server that asks
   * before it answered pays a retransmission. Ignored requests count in `radio.ignoredIn`.
   * Default false.
   */
  readonly strictRegistration?: boolean;
  /**
   * Formats the device emits in answers but does not read in a request body (a Write, a
   * Create, the paths of a Read-Composite): such a body gets 4.15, e.g. `[11544]` for a
   * device that answers in LwM2M CBOR only. Default: none.
   */
  readonly answerOnlyFormats?: readonly number[];
  /**
   * A strict LwM2M JSON reader: a body whose entries lack "n" (`{"bn":"/1/0/1","e":[{"v":1}]}`)
   * gets 4.06, as a strict client answers; it reads a resource only as `bn` of the instance
   * plus `n`. Default false.
   */
  readonly strictLwm2mJson?: boolean;
}

/** One slot of flash as `info()` shows it. */
export interface SlotInfo {
  readonly version: string;
  readonly sequenceNumber: number;
  readonly size: number;
  /** SHA-256 of the image, hex, when known. */
  readonly digest: string | undefined;
}

/** A snapshot of the device. */
export interface DeviceInfo {
  readonly endpoint: string;
  readonly lwm2mVersion: DeviceLwm2mVersion;
  readonly binding: DeviceBinding;
  readonly registered: boolean;
  readonly registrationId: string | undefined;
  /** The local UDP port, when the radio is up. */
  readonly port: number | undefined;
  readonly firmwareVersion: string;
  readonly sequenceNumber: number;
  readonly state: FirmwareState;
  readonly updateResult: UpdateResult;
  readonly packageUri: string;
  /** The running slot and the other one (the downloaded image, or the previous firmware after an update). */
  readonly slots: { readonly active: 'A' | 'B'; readonly running: SlotInfo; readonly other: SlotInfo | undefined };
  readonly awake: boolean;
  readonly rebooting: boolean;
  readonly reboots: number;
  readonly radio: RadioStats;
  readonly faults: DeviceFaults;
}

/** Everything the device reports, by event name. Every payload also carries `endpoint`. */
export interface DeviceEventMap {
  registered: { registrationId: string; location: string; firmwareVersion: string; port: number };
  registrationUpdated: { registrationId: string };
  registrationFailed: { reason: string; retryInMs: number };
  deregistered: { registrationId: string };
  stateChanged: { state: FirmwareState; result: UpdateResult };
  downloadStarted: { method: 'pull' | 'push'; uri?: string };
  /** Pull: a response datagram arrived during a download; push: a Package block was written. */
  blockReceived: { method: 'pull' | 'push'; what: 'envelope' | 'image' | 'package'; num: number; bytes: number; total?: number };
  verified: { sequenceNumber: number; version: string; signers: readonly string[] };
  rejected: { result: UpdateResult; reason: string; code?: string };
  downloaded: { size: number; version: string };
  updating: { from: string; to: string };
  rebooting: { reason: 'update' | 'execute' | 'fault' };
  rebooted: { firmwareVersion: string; fellBack: boolean };
  updated: { from: string; to: string; sequenceNumber: number };
  updateFailed: { result: UpdateResult; reason: string; firmwareVersion: string };
  cancelled: { previousState: FirmwareState };
  /** A write to /5/0/0 (package) or /5/0/1 (packageUri) was refused with `code` in `state`. */
  writeRefused: { resource: 'package' | 'packageUri'; code: string; state: FirmwareState };
  faultInjected: { fault: string };
  notified: { path: string };
  asleep: Record<string, never>;
  awake: Record<string, never>;
  /** Something went wrong that the device handled (a failed send, a handler bug). */
  warning: { message: string };
}

export type DeviceEventName = keyof DeviceEventMap;
export type DeviceEvent<K extends DeviceEventName> = DeviceEventMap[K] & { readonly endpoint: string };
export type DeviceListener<K extends DeviceEventName> = (event: DeviceEvent<K>) => void;

/** An emulated device. Created stopped by `createDevice`; `start()` binds and registers. */
export interface EmulatedDevice {
  readonly endpoint: string;
  /** Binds the socket and registers (resolves after the first successful registration). */
  start(): Promise<void>;
  /** De-registers (best effort) and closes the socket; cancels every timer. */
  stop(options?: { deregister?: boolean }): Promise<void>;
  info(): DeviceInfo;
  readonly firmwareVersion: string;
  readonly state: FirmwareState;
  readonly updateResult: UpdateResult;
  readonly registrationId: string | undefined;
  /** Resolves with the next event of that name (optionally one that matches). */
  waitFor<K extends DeviceEventName>(event: K, match?: (e: DeviceEvent<K>) => boolean, timeoutMs?: number): Promise<DeviceEvent<K>>;
  on<K extends DeviceEventName>(event: K, listener: DeviceListener<K>): this;
  once<K extends DeviceEventName>(event: K, listener: DeviceListener<K>): this;
  off<K extends DeviceEventName>(event: K, listener: DeviceListener<K>): this;
}

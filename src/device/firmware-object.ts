/**
 * Object 5 (Firmware Update) as a constrained device runs it, with A/B flash slots.
 *
 * Transitions follow REFERENCE.md's table (spec text, Zephyr, Anjay):
 *
 *   Idle ──URI written / first Package block──▶ Downloading (result 0)
 *   Downloading ──package verified and stored──▶ Downloaded (0)
 *   Downloading ──failure──▶ Idle (2 flash, 3 RAM, 4 connection, 5 integrity, 6 unsupported, 7 URI, 9 protocol)
 *   Downloading/Downloaded ──Cancel (obj 1.1+)──▶ Idle (10)
 *   Downloaded ──empty URI / NUL Package──▶ Idle (0)
 *   Downloaded ──Update──▶ Updating (0) ──reboot──▶ Idle (1) on the new version
 *   Updating ──install fails──▶ Downloaded (obj 1.0) or Idle (1.1+), result 8, old version kept
 *
 * A SUIT envelope is verified — signature against the device's trust anchors, sequence
 * number above the running one, vendor and class — before the image is fetched
 * (DESIGN.md "Firmware over LwM2M, with SUIT"): a refused update costs the envelope only.
 */
import { createHash } from 'node:crypto';
import type { IncomingRequest, OutgoingResponse } from '../coap/types';
import { ContentFormat, type Lwm2mValue } from '../lwm2m/core/content-formats';
import { isLwm2mFotaError, type ErrorCode } from '../errors';
import { checkImage, INTEGRATED_PAYLOAD_URI, resolveUriReference, SuitTextComponentKey, verifyEnvelope, type SuitPolicy, type SuitVerifiedEnvelope } from '../suit';
import { DeliveryMethod, FirmwareProtocol, FirmwareResource as R, FirmwareState, UpdateResult } from './constants';
import type { FaultState } from './faults';
import { FlashFullError, FlashWriter, type FirmwareSlot } from './flash';
import type { ResourceOutcome, ResourceSpec } from './object-tree';
import type { DeviceEventMap, PackageFormat } from './types';
import { parseCoapUri } from './uri';

/** What a GET of a URI gave the device. */
export type FetchOutcome = { ok: true; payload: Buffer } | { ok: false; result: UpdateResult; reason: string } | { ok: false; aborted: true };

export interface FetchOptions {
  /** Largest acceptable body (ERR_COAP_TOO_LARGE → not enough flash). */
  readonly limit: number;
  readonly what: 'envelope' | 'image';
  /** Blocks expected, to find the middle of the transfer for mid-download faults. */
  readonly expectedBlocks?: number;
  /** Called once when half of the expected blocks arrived. */
  readonly onHalfway?: () => void;
}

/** What the firmware object needs from its device. */
export interface FirmwareHost {
  readonly faults: FaultState;
  readonly packageFormat: PackageFormat;
  readonly flashSize: number;
  readonly blockSize: number;
  /** How a pushed block larger than blockSize is answered (DeviceOptions.block1Negotiation). */
  readonly block1Negotiation: 'late' | 'too-large';
  readonly deliveryMethod: DeliveryMethod;
  /** Object 5's version as the device announced it ("1.0", "1.1", "1.2"). */
  readonly objectVersion: string;
  readonly installDelayMs: number;
  readonly outageMs: number;
  readonly rawImageDigest: Buffer | undefined;
  readonly rawVersion: string | ((image: Buffer) => string | undefined) | undefined;
  /** The URI a pushed manifest's relative image reference resolves against (the server). */
  readonly serverUri: string;
  /** The verification policy with the given lowest acceptable sequence number. */
  policy(minSequenceNumber: number): SuitPolicy;
  fetch(uri: string, options: FetchOptions): Promise<FetchOutcome>;
  /** Resources of /5/0 changed (observers, and the device's own bookkeeping). */
  changed(resourceIds: readonly number[]): void;
  emit<K extends keyof DeviceEventMap>(event: K, payload: DeviceEventMap[K]): void;
  /** Reboots the device (goes silent, re-registers); `onBoot()` is called in between. */
  reboot(reason: 'update' | 'fault'): void;
  /** Takes the radio down for `ms` (the connection-lost fault). */
  outage(ms: number): Promise<void>;
  /** Resolves when queued notifications went out (so the server sees Updating before the reboot). */
  notificationsSettled(): Promise<void>;
}

/** An operation in progress; replaced (cancelled) by the next one. */
interface Task {
  readonly id: number;
  readonly method: 'pull' | 'push';
  cancelled: boolean;
}

/** A Block1 push being written into slot B. */
interface Push {
  readonly task: Task;
  readonly writer: FlashWriter;
  /** Offset and length of the last block, to recognise a retransmitted block. */
  lastOffset: number;
  lastLength: number;
  blocks: number;
  /** Total announced in Size1, if any. */
  readonly total: number | undefined;
  halfwayDone: boolean;
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref?.());

/**
 * The default version of a raw image: the text after `fw-version=` in its first 256 bytes
 * (a convention of this emulator: build test images with `Buffer.from('fw-version=2.0.0\n')`
 * at the front), else `sha256:<first 8 hex digits>`.
 */
export function rawImageVersion(image: Buffer): string {
  const head = image.subarray(0, 256).toString('latin1');
  const m = /fw-version=([\x21-\x7e]{1,64})/.exec(head);
  return m ? m[1]! : `sha256:${createHash('sha256').update(image).digest('hex').slice(0, 8)}`;
}

/** Which Update Result a SUIT verification failure means (DESIGN.md: signature/digest → 5, unsupported/rollback → 6). */
export function resultForSuitError(code: ErrorCode): UpdateResult {
  switch (code) {
    case 'ERR_SUIT_UNSIGNED':
    case 'ERR_SUIT_SIGNATURE_INVALID':
    case 'ERR_SUIT_SIGNERS_MISSING':
    case 'ERR_SUIT_MANIFEST_DIGEST':
    case 'ERR_SUIT_SEVERED_DIGEST':
    case 'ERR_SUIT_IMAGE_DIGEST':
    case 'ERR_SUIT_ALGORITHM_NOT_ALLOWED':
      return UpdateResult.IntegrityCheckFailed;
    default:
      // ERR_SUIT_ROLLBACK, ERR_SUIT_VENDOR_MISMATCH, ERR_SUIT_CLASS_MISMATCH, ERR_SUIT_CBOR, ERR_SUIT_STRUCTURE
      return UpdateResult.UnsupportedPackage;
  }
}

function textField(v: SuitVerifiedEnvelope, key: number): string | undefined {
  for (const lang of v.text ?? []) {
    for (const c of lang.components) {
      const f = c.fields.find(([k]) => k === key);
      if (f) return f[1];
    }
  }
  return undefined;
}

export class FirmwareObject {
  state: FirmwareState = FirmwareState.Idle;
  result: UpdateResult = UpdateResult.Initial;
  packageUri = '';
  pkgName = '';
  pkgVersion = '';
  lastStateChange = new Date(Math.floor(Date.now() / 1000) * 1000);
  /** The running image (slot `activeSlot`) and the other slot. */
  running: FirmwareSlot;
  other: FirmwareSlot | undefined = undefined;
  activeSlot: 'A' | 'B' = 'A';
  /** Slot `other` holds a verified download that Update may install. */
  private downloadedReady = false;
  private task: Task | undefined = undefined;
  private push: Push | undefined = undefined;
  private taskIds = 0;
  /** An Update was executed and the reboot that installs it is due. */
  private installing = false;
  /** The stuck-updating fault struck: in Updating for good, refusing every reset. */
  private stuck = false;

  constructor(
    private readonly host: FirmwareHost,
    factory: FirmwareSlot,
  ) {
    this.running = factory;
    // A stub reports Downloading before anything was delivered, and for ever.
    if (this.stub) this.state = FirmwareState.Downloading;
  }

  /** The stub-object mode: writes are acknowledged, State and Result never change. */
  private get stub(): boolean {
    return this.host.faults.armed('stubObject');
  }

  /** A refused write to /5/0/0 or /5/0/1, reported to the device's listeners. */
  private refused<T extends { code: string }>(resource: 'package' | 'packageUri', out: T): T {
    this.host.emit('writeRefused', { resource, code: out.code, state: this.state });
    return out;
  }

  private get obj11(): boolean {
    return this.host.objectVersion !== '1.0';
  }

  /** The resources of /5/0 (the object tree keeps those the object version defines). */
  resources(): ResourceSpec[] {
    return [
      { id: R.Package, write: (v) => this.writePackage(v) },
      { id: R.PackageUri, read: () => this.packageUri, write: (v) => this.writePackageUri(v) },
      { id: R.Update, execute: () => this.executeUpdate() },
      { id: R.State, read: () => this.state },
      { id: R.UpdateResult, read: () => this.result },
      { id: R.PkgName, read: () => this.pkgName },
      { id: R.PkgVersion, read: () => this.pkgVersion },
      { id: R.ProtocolSupport, read: () => new Map<number, Lwm2mValue>([[0, FirmwareProtocol.Coap]]) },
      { id: R.DeliveryMethod, read: () => this.host.deliveryMethod },
      { id: R.Cancel, execute: () => this.executeCancel() },
      { id: R.LastStateChangeTime, read: () => this.lastStateChange },
    ];
  }

  // -------------------------------------------------------------------------------------
  // State

  private setState(state: FirmwareState, result: UpdateResult): void {
    const changed: number[] = [];
    if (state !== this.state) {
      this.state = state;
      this.lastStateChange = new Date(Math.floor(Date.now() / 1000) * 1000);
      changed.push(R.State, R.LastStateChangeTime);
    }
    if (result !== this.result) {
      this.result = result;
      changed.push(R.UpdateResult);
    }
    if (changed.length === 0) return;
    this.host.emit('stateChanged', { state, result });
    this.host.changed(changed);
  }

  private newTask(method: 'pull' | 'push'): Task {
    if (this.task) this.task.cancelled = true;
    this.task = { id: ++this.taskIds, method, cancelled: false };
    return this.task;
  }

  private cancelTask(): void {
    if (this.task) this.task.cancelled = true;
    this.task = undefined;
    this.push = undefined;
  }

  private live(task: Task): boolean {
    return !task.cancelled && this.task === task;
  }

  /** A download failed: Idle with `result`; the old firmware keeps running. */
  private fail(task: Task, result: UpdateResult, reason: string, code?: string): void {
    if (!this.live(task)) return;
    this.task = undefined;
    this.push = undefined;
    this.other = undefined;
    this.downloadedReady = false;
    this.host.emit('rejected', code === undefined ? { result, reason } : { result, reason, code });
    this.setState(FirmwareState.Idle, result);
  }

  /** Back to Idle with result 0: the download is dropped (empty URI, NUL package). */
  private reset(): void {
    this.cancelTask();
    this.other = this.downloadedReady ? undefined : this.other;
    this.downloadedReady = false;
    this.packageUri = '';
    this.setState(FirmwareState.Idle, UpdateResult.Initial);
  }

  // -------------------------------------------------------------------------------------
  // Pull: Package URI

  writePackageUri(value: Lwm2mValue): ResourceOutcome {
    if (typeof value !== 'string') return { code: '4.00', message: 'Package URI is a string' };
    if (this.stub) {
      this.packageUri = value; // acknowledged, never acted on
      return undefined;
    }
    if (this.stuck) return this.refused('packageUri', { code: value === '' ? '4.05' : '4.00', message: 'the device is stuck in Updating' });
    // "Writing an empty string to Package URI … resets the Firmware Update State Machine."
    if (value === '') {
      this.reset();
      this.host.changed([R.PackageUri]);
      return undefined;
    }
    if (value.length > 255) return { code: '4.00', message: 'Package URI is longer than 255 characters' };
    // Anjay answers 4.00 to a URI written outside Idle (REFERENCE.md).
    if (this.state !== FirmwareState.Idle) return this.refused('packageUri', { code: '4.00', message: `Package URI written in state ${this.state}` });
    if (this.host.deliveryMethod === DeliveryMethod.Push) return { code: '4.05', message: 'this device takes push only' };
    this.packageUri = value;
    const task = this.newTask('pull');
    // Errors surface through Update Result only: the write succeeds, the download starts after the answer.
    setImmediate(() => void this.pull(task, value));
    return undefined;
  }

  private async pull(task: Task, uri: string): Promise<void> {
    if (!this.live(task)) return;
    this.other = undefined;
    this.downloadedReady = false;
    this.pkgName = '';
    this.pkgVersion = '';
    this.setState(FirmwareState.Downloading, UpdateResult.Initial);
    this.host.emit('downloadStarted', { method: 'pull', uri });
    const parsed = parseCoapUri(uri);
    if (!parsed) return this.fail(task, UpdateResult.InvalidUri, `"${uri}" is not an absolute URI`);
    if (parsed.scheme !== 'coap') return this.fail(task, UpdateResult.UnsupportedProtocol, `scheme "${parsed.scheme}" is not supported (only coap)`);
    if (this.host.faults.fire('outOfRam')) {
      this.host.emit('faultInjected', { fault: 'out-of-ram' });
      return this.fail(task, UpdateResult.OutOfMemory, 'out of RAM (injected)');
    }
    if (this.host.packageFormat === 'raw') {
      const got = await this.fetchImage(task, uri, undefined);
      if (got === undefined) return;
      return this.storeRaw(task, got);
    }
    const env = await this.host.fetch(uri, { limit: this.host.flashSize + 64 * 1024, what: 'envelope' });
    if (!this.live(task)) return;
    if (!env.ok) return 'aborted' in env ? undefined : this.fail(task, env.result, `envelope: ${env.reason}`);
    await this.processEnvelope(task, env.payload, uri);
  }

  /** GET an image with the mid-download faults armed; undefined when the task ended (failed or aborted). */
  private async fetchImage(task: Task, uri: string, size: number | undefined): Promise<Buffer | undefined> {
    const expectedBlocks = size === undefined ? 4 : Math.ceil(size / this.host.blockSize);
    const halfway = (): void => {
      this.midDownload(task);
    };
    const got = await this.host.fetch(uri, { limit: Math.min(size ?? this.host.flashSize, this.host.flashSize), what: 'image', expectedBlocks, onHalfway: halfway });
    if (!this.live(task)) return undefined;
    if (!got.ok) {
      if (!('aborted' in got)) this.fail(task, got.result, `image: ${got.reason}`);
      return undefined;
    }
    return got.payload;
  }

  /** Half of the download is in: the connection-lost and reboot faults strike here. */
  private midDownload(task: Task): boolean {
    if (!this.live(task)) return false;
    if (this.host.faults.fire('connectionLost')) {
      this.host.emit('faultInjected', { fault: 'connection-lost' });
      // The radio goes down; the device gives the download up and says so once it is back.
      task.cancelled = true;
      void this.host.outage(this.host.outageMs).then(() => {
        if (this.task !== task) return;
        this.task = undefined;
        this.push = undefined;
        this.other = undefined;
        this.host.emit('rejected', { result: UpdateResult.ConnectionLost, reason: 'connection lost during the download (injected)' });
        this.setState(FirmwareState.Idle, UpdateResult.ConnectionLost);
      });
      return true;
    }
    if (this.host.faults.fire('rebootMidDownload')) {
      this.host.emit('faultInjected', { fault: 'reboot-mid-download' });
      this.host.reboot('fault');
      return true;
    }
    return false;
  }

  /** Verifies an envelope (before any image byte is fetched), then gets and checks the image. */
  private async processEnvelope(task: Task, bytes: Buffer, baseUri: string): Promise<void> {
    let v: SuitVerifiedEnvelope;
    try {
      v = verifyEnvelope(bytes, this.host.policy(this.running.sequenceNumber + 1));
    } catch (err) {
      if (!isLwm2mFotaError(err)) throw err;
      return this.fail(task, resultForSuitError(err.code), err.message, err.code);
    }
    const seq = Number(v.sequenceNumber);
    const version = textField(v, SuitTextComponentKey.ComponentVersion) ?? `seq-${seq}`;
    this.host.emit('verified', { sequenceNumber: seq, version, signers: v.signers });
    const component = v.components[0];
    if (!component || component.imageDigest === undefined) return this.fail(task, UpdateResult.UnsupportedPackage, 'the manifest names no image digest');
    const size = component.imageSize === undefined ? undefined : Number(component.imageSize);
    if ((size !== undefined && size > this.host.flashSize) || this.host.faults.fire('outOfFlash')) {
      if (size === undefined || size <= this.host.flashSize) this.host.emit('faultInjected', { fault: 'out-of-flash' });
      return this.fail(task, UpdateResult.NotEnoughFlash, `the image (${size ?? '?'} bytes) does not fit the ${this.host.flashSize}-byte slot`);
    }
    const uri = component.uri;
    let image: Buffer | undefined;
    const integrated = v.envelope.integratedPayloads.find((p) => p.key === (uri ?? INTEGRATED_PAYLOAD_URI));
    if (integrated) image = Buffer.from(integrated.bytes.buffer, integrated.bytes.byteOffset, integrated.bytes.length);
    else if (uri === undefined || uri.startsWith('#')) return this.fail(task, UpdateResult.UnsupportedPackage, `the envelope does not carry the payload ${uri ?? '(no URI)'}`);
    else {
      let absolute: string;
      try {
        absolute = resolveUriReference(baseUri, uri);
      } catch {
        return this.fail(task, UpdateResult.InvalidUri, `cannot resolve "${uri}" against ${baseUri}`);
      }
      const parsed = parseCoapUri(absolute);
      if (!parsed) return this.fail(task, UpdateResult.InvalidUri, `"${absolute}" is not a usable URI`);
      if (parsed.scheme !== 'coap') return this.fail(task, UpdateResult.UnsupportedProtocol, `image scheme "${parsed.scheme}" is not supported`);
      image = await this.fetchImage(task, absolute, size);
      if (image === undefined) return;
    }
    image = this.maybeCorrupt(image);
    try {
      checkImage(image, component);
    } catch (err) {
      if (!isLwm2mFotaError(err)) throw err;
      return this.fail(task, UpdateResult.IntegrityCheckFailed, err.message, err.code);
    }
    const digest = createHash('sha256').update(image).digest('hex');
    this.stored(task, { image: Buffer.from(image), version, sequenceNumber: seq, digest }, textField(v, SuitTextComponentKey.ModelName) ?? '');
  }

  /** The corrupt-block fault: one flipped byte in the middle block (as if the radio garbled it). */
  private maybeCorrupt(image: Buffer): Buffer {
    if (image.length === 0 || !this.host.faults.fire('corruptBlock')) return image;
    this.host.emit('faultInjected', { fault: 'corrupt-block' });
    const copy = Buffer.from(image);
    const blocks = Math.ceil(copy.length / this.host.blockSize);
    const at = Math.min(copy.length - 1, Math.floor(blocks / 2) * this.host.blockSize);
    copy[at] = copy[at]! ^ 0xff;
    return copy;
  }

  private storeRaw(task: Task, raw: Buffer): void {
    const image = this.maybeCorrupt(raw);
    const digest = createHash('sha256').update(image).digest();
    if (this.host.rawImageDigest !== undefined && !digest.equals(this.host.rawImageDigest)) {
      return this.fail(task, UpdateResult.IntegrityCheckFailed, 'the image does not match the expected digest');
    }
    const rv = this.host.rawVersion;
    const version = (typeof rv === 'function' ? rv(image) : rv) ?? rawImageVersion(image);
    this.stored(task, { image: Buffer.from(image), version, sequenceNumber: this.running.sequenceNumber, digest: digest.toString('hex') }, '');
  }

  private stored(task: Task, slot: FirmwareSlot, name: string): void {
    if (!this.live(task)) return;
    this.task = undefined;
    this.push = undefined;
    this.other = slot;
    this.downloadedReady = true;
    this.pkgName = name;
    this.pkgVersion = slot.version;
    this.host.changed([R.PkgName, R.PkgVersion]);
    this.host.emit('downloaded', { size: slot.image?.length ?? 0, version: slot.version });
    this.setState(FirmwareState.Downloaded, UpdateResult.Initial);
  }

  // -------------------------------------------------------------------------------------
  // Push: Package (Block1 datagrams, route with blockwise 'raw')

  /** A whole Package written in one request (not block-wise), e.g. through a Write on /5/0. */
  writePackage(value: Lwm2mValue): ResourceOutcome {
    if (!Buffer.isBuffer(value)) return { code: '4.00', message: 'Package is opaque' };
    return this.wholePackage(value);
  }

  private wholePackage(bytes: Buffer): ResourceOutcome {
    if (this.stub) return undefined;
    if (this.stuck) return this.refused('package', { code: '4.05', message: 'the device is stuck in Updating' });
    // "Writing … a single NUL byte to Package … resets" (REFERENCE.md).
    if (bytes.length === 0 || (bytes.length === 1 && bytes[0] === 0)) {
      this.reset();
      return undefined;
    }
    if (this.state !== FirmwareState.Idle && !(this.state === FirmwareState.Downloading && this.task?.method === 'push')) {
      return { code: '4.00', message: `Package written in state ${this.state}` };
    }
    if (this.host.deliveryMethod === DeliveryMethod.Pull) return { code: '4.05', message: 'this device takes pull only' };
    if (bytes.length > this.host.flashSize || this.host.faults.armed('outOfFlash')) {
      const task = this.newTask('push');
      if (bytes.length <= this.host.flashSize) {
        this.host.faults.fire('outOfFlash');
        this.host.emit('faultInjected', { fault: 'out-of-flash' });
      }
      this.fail(task, UpdateResult.NotEnoughFlash, `the package (${bytes.length} bytes) does not fit the ${this.host.flashSize}-byte slot`);
      return { code: '4.13', message: 'the package does not fit' };
    }
    const task = this.newTask('push');
    this.setState(FirmwareState.Downloading, UpdateResult.Initial);
    this.host.emit('downloadStarted', { method: 'push' });
    setImmediate(() => void this.pushed(task, Buffer.from(bytes)));
    return undefined;
  }

  /**
   * One datagram of a Package write. Blocks go into flash as they arrive; each is answered
   * 2.31 with its Block1 (RFC 7959 §2.3); the last one 2.04. A package that cannot fit is
   * answered 4.13 with Size1 = the slot's capacity (RFC 7959 §2.9.3) and result 2.
   */
  handlePackageDatagram(req: IncomingRequest): OutgoingResponse {
    if (req.method !== 'PUT' && req.method !== 'POST') return { code: '4.05' };
    const cf = req.contentFormat;
    if (cf !== undefined && cf !== ContentFormat.OctetStream) return { code: '4.15', payload: Buffer.from('Package takes application/octet-stream') };
    const b1 = req.block1;
    if (this.stub) {
      // Every block acknowledged, nothing written, no State change.
      if (b1 === undefined) return { code: '2.04' };
      const szx = Math.min(Math.log2(b1.size) - 4, Math.log2(this.host.blockSize) - 4);
      return { code: b1.more ? '2.31' : '2.04', options: [this.block1(b1.num, b1.more, szx)] };
    }
    if (this.stuck) return this.refused('package', { code: '4.05', payload: Buffer.from('the device is stuck in Updating') });
    if (b1 === undefined) {
      const out = this.wholePackage(req.payload);
      if (out === undefined) return { code: '2.04' };
      return out.code === '4.13' ? this.tooLarge(out.message ?? '') : { code: out.code, payload: Buffer.from(out.message ?? '') };
    }
    const szx = Math.log2(b1.size) - 4;
    if (b1.size > this.host.blockSize && this.host.block1Negotiation === 'too-large') {
      // RFC 7959 §2.9.3: 4.13 with a Block1 option says which block size to restart with.
      return { code: '4.13', payload: Buffer.from(`blocks of at most ${this.host.blockSize} bytes`), options: [this.block1(0, false, Math.log2(this.host.blockSize) - 4)] };
    }
    // Late negotiation (RFC 7959 §2.5): a block larger than ours is taken, and our answer asks for our size.
    const replySzx = Math.min(szx, Math.log2(this.host.blockSize) - 4);
    const offset = b1.num * b1.size;
    let p = this.push;
    if (b1.num === 0) {
      if (req.payload.length === 1 && req.payload[0] === 0 && !b1.more) {
        this.reset();
        return { code: '2.04', options: [this.block1(0, false, replySzx)] };
      }
      if (this.state !== FirmwareState.Idle && !(this.state === FirmwareState.Downloading && this.task?.method === 'push')) {
        return { code: '4.00', payload: Buffer.from(`Package written in state ${this.state}`) };
      }
      if (this.host.deliveryMethod === DeliveryMethod.Pull) return { code: '4.05', payload: Buffer.from('this device takes pull only') };
      const size1 = sizeOption(req);
      const task = this.newTask('push');
      if ((size1 !== undefined && size1 > this.host.flashSize) || this.host.faults.armed('outOfFlash')) {
        if (size1 === undefined || size1 <= this.host.flashSize) {
          this.host.faults.fire('outOfFlash');
          this.host.emit('faultInjected', { fault: 'out-of-flash' });
        }
        this.fail(task, UpdateResult.NotEnoughFlash, `the package (${size1 ?? '?'} bytes) does not fit the ${this.host.flashSize}-byte slot`);
        return this.tooLarge('the package does not fit');
      }
      p = this.push = { task, writer: new FlashWriter(this.host.flashSize, size1), lastOffset: -1, lastLength: 0, blocks: 0, total: size1, halfwayDone: false };
      this.other = undefined;
      this.downloadedReady = false;
      this.setState(FirmwareState.Downloading, UpdateResult.Initial);
      this.host.emit('downloadStarted', { method: 'push' });
    } else if (!p || !this.live(p.task)) {
      return { code: '4.08', payload: Buffer.from(`block ${b1.num} without a transfer in progress`) };
    } else if (offset !== p.writer.size) {
      if (offset === p.lastOffset && req.payload.length === p.lastLength) {
        return { code: b1.more ? '2.31' : '2.04', options: [this.block1(b1.num, b1.more, replySzx)] };
      }
      return { code: '4.08', payload: Buffer.from(`block at offset ${offset}, expected ${p.writer.size}`) };
    }
    if (b1.more && req.payload.length !== b1.size) return { code: '4.00', payload: Buffer.from(`block ${b1.num} has ${req.payload.length} bytes, not ${b1.size}`) };
    try {
      p.writer.write(offset, req.payload);
    } catch (err) {
      if (!(err instanceof FlashFullError)) throw err;
      this.fail(p.task, UpdateResult.NotEnoughFlash, err.message);
      return this.tooLarge(err.message);
    }
    p.lastOffset = offset;
    p.lastLength = req.payload.length;
    p.blocks++;
    this.host.emit('blockReceived', { method: 'push', what: 'package', num: b1.num, bytes: p.writer.size, ...(p.total === undefined ? {} : { total: p.total }) });
    if (b1.more && !p.halfwayDone) {
      const expected = p.total === undefined ? 4 : Math.ceil(p.total / b1.size);
      if (p.blocks >= Math.max(1, Math.floor(expected / 2))) {
        p.halfwayDone = true;
        if (this.midDownload(p.task)) return { code: '2.31', options: [this.block1(b1.num, true, replySzx)] };
      }
    }
    if (b1.more) return { code: '2.31', options: [this.block1(b1.num, true, replySzx)] };
    const task = p.task;
    const bytes = p.writer.bytes();
    this.push = undefined;
    setImmediate(() => void this.pushed(task, bytes));
    return { code: '2.04', options: [this.block1(b1.num, false, replySzx)] };
  }

  private block1(num: number, more: boolean, szx: number): { number: number; value: Buffer } {
    return { number: 27, value: encodeBlockValue(num, more, szx) };
  }

  private tooLarge(message: string): OutgoingResponse {
    return {
      code: '4.13',
      payload: Buffer.from(message),
      options: [{ number: 60, value: encodeUintValue(this.host.flashSize) }],
    };
  }

  /** A complete pushed package: verify it like a pulled one. */
  private async pushed(task: Task, bytes: Buffer): Promise<void> {
    if (!this.live(task)) return;
    if (this.host.faults.fire('outOfRam')) {
      this.host.emit('faultInjected', { fault: 'out-of-ram' });
      return this.fail(task, UpdateResult.OutOfMemory, 'out of RAM (injected)');
    }
    if (this.host.packageFormat === 'raw') return this.storeRaw(task, bytes);
    await this.processEnvelope(task, bytes, this.host.serverUri);
  }

  // -------------------------------------------------------------------------------------
  // Update and Cancel

  executeUpdate(): ResourceOutcome {
    // "Update executed outside Downloaded → 4.05" (REFERENCE.md).
    if (this.state !== FirmwareState.Downloaded || !this.downloadedReady || !this.other) {
      return { code: '4.05', message: `Update needs state Downloaded (2), the state is ${this.state}` };
    }
    setImmediate(() => void this.install());
    return undefined;
  }

  private async install(): Promise<void> {
    if (this.state !== FirmwareState.Downloaded || !this.other) return;
    const to = this.other.version;
    this.host.emit('updating', { from: this.running.version, to });
    this.setState(FirmwareState.Updating, UpdateResult.Initial);
    await this.host.notificationsSettled();
    await delay(this.host.installDelayMs);
    // The state may have moved on while we waited (a Cancel, a reboot).
    if ((this.state as FirmwareState) !== FirmwareState.Updating) return;
    if (this.host.faults.fire('stuckUpdating')) {
      // It never restarts: Updating for good (until something reboots it from outside).
      this.stuck = true;
      this.host.emit('faultInjected', { fault: 'stuck-updating' });
      return;
    }
    if (this.host.faults.fire('failInstall')) {
      this.host.emit('faultInjected', { fault: 'fail-install' });
      this.host.emit('updateFailed', { result: UpdateResult.UpdateFailed, reason: 'installing the image failed (injected)', firmwareVersion: this.running.version });
      // Object 5 1.0: back to Downloaded; 1.1+ may go to Idle (REFERENCE.md table) — we drop the image.
      if (this.obj11) {
        this.other = undefined;
        this.downloadedReady = false;
        this.setState(FirmwareState.Idle, UpdateResult.UpdateFailed);
      } else this.setState(FirmwareState.Downloaded, UpdateResult.UpdateFailed);
      return;
    }
    this.installing = true;
    this.host.reboot('update');
  }

  executeCancel(): ResourceOutcome {
    if (this.stub) return undefined;
    if (this.state !== FirmwareState.Downloading && this.state !== FirmwareState.Downloaded) {
      return { code: '4.05', message: `Cancel needs state Downloading or Downloaded, the state is ${this.state}` };
    }
    const previousState = this.state;
    this.cancelTask();
    this.other = undefined;
    this.downloadedReady = false;
    this.packageUri = '';
    this.host.emit('cancelled', { previousState });
    this.setState(FirmwareState.Idle, UpdateResult.Cancelled);
    return undefined;
  }

  // -------------------------------------------------------------------------------------
  // Reboot

  /** The device goes down: whatever was in flight stops. */
  onShutdown(): void {
    if (this.task) this.task.cancelled = true;
  }

  /**
   * The device comes back up. An executed Update boots the new slot — or, when it does
   * not boot (fail-boot fault), the bootloader returns to the old one. A download that was
   * running is lost (Idle, result 4). A finished download stays in flash.
   */
  onBoot(): { fellBack: boolean; updated: boolean } {
    this.stuck = false;
    if (this.stub) return { fellBack: false, updated: false };
    const wasDownloading = this.state === FirmwareState.Downloading;
    this.task = undefined;
    this.push = undefined;
    this.packageUri = '';
    const silent = (state: FirmwareState, result: UpdateResult): void => {
      // Observers are gone after a reboot: no notifications, just the new values.
      if (state !== this.state) this.lastStateChange = new Date(Math.floor(Date.now() / 1000) * 1000);
      this.state = state;
      this.result = result;
      this.host.emit('stateChanged', { state, result });
    };
    if (this.installing && this.other) {
      this.installing = false;
      const next = this.other;
      const previous = this.running;
      if (this.host.faults.fire('failBoot')) {
        this.host.emit('faultInjected', { fault: 'fail-boot' });
        this.other = undefined;
        this.downloadedReady = false;
        silent(FirmwareState.Idle, UpdateResult.UpdateFailed);
        this.host.emit('updateFailed', { result: UpdateResult.UpdateFailed, reason: `version ${next.version} did not boot; fell back to ${previous.version}`, firmwareVersion: previous.version });
        return { fellBack: true, updated: false };
      }
      this.running = next;
      this.other = previous;
      this.activeSlot = this.activeSlot === 'A' ? 'B' : 'A';
      this.downloadedReady = false;
      silent(FirmwareState.Idle, UpdateResult.Success);
      this.host.emit('updated', { from: previous.version, to: next.version, sequenceNumber: next.sequenceNumber });
      return { fellBack: false, updated: true };
    }
    this.installing = false;
    if (wasDownloading) {
      this.other = undefined;
      this.downloadedReady = false;
      silent(FirmwareState.Idle, UpdateResult.ConnectionLost);
    } else if (this.state === FirmwareState.Updating) {
      silent(this.obj11 ? FirmwareState.Idle : FirmwareState.Downloaded, UpdateResult.UpdateFailed);
    }
    return { fellBack: false, updated: false };
  }
}

function sizeOption(req: IncomingRequest): number | undefined {
  const o = req.options.find((x) => x.number === 60);
  if (!o) return undefined;
  let n = 0;
  for (const b of o.value) n = n * 256 + b;
  return n;
}

/** RFC 7959 §2.2: NUM << 4 | M << 3 | SZX, in as few bytes as it takes. */
function encodeBlockValue(num: number, more: boolean, szx: number): Buffer {
  return encodeUintValue(num * 16 + (more ? 8 : 0) + szx);
}

function encodeUintValue(n: number): Buffer {
  if (n === 0) return Buffer.alloc(0);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Buffer.from(bytes);
}

/**
 * Choosing how a firmware package reaches a device: pull (the device fetches the URI
 * written to /5/0/1) or push (the server writes /5/0/0 with Block1), and for pull the URI
 * scheme, from what the device announces in /5/0/9 and /5/0/8 and what the operator asks.
 */

/** /5/0/9 Firmware Update Delivery Method. */
export const DeliveryMethod = { PullOnly: 0, PushOnly: 1, Both: 2 } as const;
export type DeliveryMethod = (typeof DeliveryMethod)[keyof typeof DeliveryMethod];

/** /5/0/8 Firmware Update Protocol Support. */
export const FirmwareProtocol = { CoAP: 0, CoAPS: 1, HTTP: 2, HTTPS: 3, CoapOverTcp: 4, CoapOverTls: 5 } as const;
export type FirmwareProtocol = (typeof FirmwareProtocol)[keyof typeof FirmwareProtocol];

export type DeliveryMethodName = 'pull' | 'push';

/** URI schemes for the protocols of /5/0/8, in the same order. */
export type PackageScheme = 'coap' | 'coaps' | 'http' | 'https' | 'coap+tcp' | 'coaps+tcp';
const SCHEMES: readonly PackageScheme[] = ['coap', 'coaps', 'http', 'https', 'coap+tcp', 'coaps+tcp'];

/** Secure before plain, CoAP before HTTP, UDP before TCP. */
const PREFERENCE: readonly PackageScheme[] = ['coaps', 'coaps+tcp', 'coap', 'coap+tcp', 'https', 'http'];

/** What the device told us (/5/0/9, /5/0/8); absent when it did not answer or lacks the resource. */
export interface DeviceDeliverySupport {
  readonly deliveryMethod?: number;
  readonly protocols?: readonly number[];
}

export interface DeliveryOptions {
  /** The operator's choice (`--method`); absent = let the device decide. */
  readonly override?: DeliveryMethodName;
  /** The package at every scheme the server serves it on. */
  readonly packageUris?: Readonly<Partial<Record<PackageScheme, string>>>;
}

export type DeliveryChoice =
  | { readonly ok: true; readonly method: 'pull'; readonly scheme: PackageScheme; readonly uri: string }
  | { readonly ok: true; readonly method: 'push' }
  | { readonly ok: false; readonly explanation: string };

/**
 * Picks the delivery method and, for pull, the URI.
 *
 * Rules: /5/0/9 absent or outside 0–2 counts as "both" (it is mandatory, so an absent value
 * means a read that failed, not a missing feature); /5/0/8 absent or empty counts as CoAP
 * only (REFERENCE.md: "absent → assume CoAP"), and a URI whose scheme the device does not
 * list is never sent. Pull is preferred — the device checks the envelope before fetching
 * the image — and push is the fallback when no scheme matches. An operator override is
 * honoured only when the device supports that method.
 */
export function chooseDelivery(device: DeviceDeliverySupport, options: DeliveryOptions = {}): DeliveryChoice {
  const dm = device.deliveryMethod;
  const canPull = dm !== DeliveryMethod.PushOnly;
  const canPush = dm !== DeliveryMethod.PullOnly;
  const listed = (device.protocols ?? []).filter((p) => Number.isInteger(p) && p >= 0 && p < SCHEMES.length);
  const supported = new Set<PackageScheme>((listed.length === 0 ? [FirmwareProtocol.CoAP] : listed).map((p) => SCHEMES[p] as PackageScheme));
  const uris = options.packageUris ?? {};
  const scheme = PREFERENCE.find((s) => supported.has(s) && typeof uris[s] === 'string' && uris[s] !== '');
  const deviceSays = `the device's delivery method (/5/0/9) is ${dm === undefined ? 'unknown' : String(dm)}`;

  const pull = (): DeliveryChoice | undefined =>
    scheme === undefined ? undefined : { ok: true, method: 'pull', scheme, uri: uris[scheme] as string };

  if (options.override === 'push') {
    return canPush ? { ok: true, method: 'push' } : { ok: false, explanation: `Push was requested, but ${deviceSays} (pull only).` };
  }
  if (options.override === 'pull') {
    if (!canPull) return { ok: false, explanation: `Pull was requested, but ${deviceSays} (push only).` };
    return pull() ?? { ok: false, explanation: noSchemeExplanation(supported, uris) };
  }
  if (canPull) {
    const p = pull();
    if (p !== undefined) return p;
  }
  if (canPush) return { ok: true, method: 'push' };
  return { ok: false, explanation: noSchemeExplanation(supported, uris) };
}

function noSchemeExplanation(supported: ReadonlySet<PackageScheme>, uris: Readonly<Partial<Record<PackageScheme, string>>>): string {
  const offered = Object.keys(uris).filter((k) => typeof uris[k as PackageScheme] === 'string');
  return (
    `The device can only pull, and no URI scheme matches: it supports ${[...supported].join(', ')} (/5/0/8), ` +
    `the server offers ${offered.length === 0 ? 'none' : offered.join(', ')}.`
  );
}

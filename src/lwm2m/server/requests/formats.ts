/** Content-Format names for people (`--format tlv`, `?format=senml-cbor`) and numbers for the wire. */
import { Lwm2mFotaError } from '../../../errors';
import { ContentFormat } from '../../core/content-formats/registry';

const NAMES: ReadonlyArray<readonly [string, number]> = [
  ['text', ContentFormat.TextPlain],
  ['link', ContentFormat.LinkFormat],
  ['opaque', ContentFormat.OctetStream],
  ['cbor', ContentFormat.Cbor],
  ['senml-json', ContentFormat.SenmlJson],
  ['senml-cbor', ContentFormat.SenmlCbor],
  ['tlv', ContentFormat.Tlv],
  ['lwm2m-json', ContentFormat.Lwm2mJson],
  ['lwm2m-cbor', ContentFormat.Lwm2mCbor],
];

const BY_NAME = new Map<string, number>([
  ...NAMES,
  ['text/plain', ContentFormat.TextPlain],
  ['json', ContentFormat.Lwm2mJson],
  ['octet-stream', ContentFormat.OctetStream],
]);

/** The short name of a Content-Format ("tlv"), or its number as text. */
export function formatName(format: number): string {
  return NAMES.find(([, n]) => n === format)?.[0] ?? String(format);
}

/**
 * A Content-Format from a name ("tlv", "senml-cbor", "lwm2m-cbor", "text" …) or a number.
 *
 * @throws Lwm2mFotaError ERR_LWM2M_UNSUPPORTED_FORMAT for anything else.
 */
export function parseFormat(text: string): number {
  const t = text.trim().toLowerCase();
  const named = BY_NAME.get(t);
  if (named !== undefined) return named;
  if (/^\d{1,5}$/.test(t) && Number(t) <= 65535) return Number(t);
  throw new Lwm2mFotaError(
    'ERR_LWM2M_UNSUPPORTED_FORMAT',
    `unknown content format "${text}" (use a number or one of ${NAMES.map(([n]) => n).join(', ')})`,
  );
}

/**
 * Habits of real clients the emulator can be set to show (DeviceOptions): checks a request
 * passes before the object tree sees it. Each refusal is an answer a client nobody here
 * wrote gave; none is needed to serve a well-formed request.
 */
import type { IncomingRequest, OutgoingResponse } from '../coap';
import { ContentFormat } from '../lwm2m/core/content-formats';
import type { DeviceOptions } from './types';

export type RequestCheckOptions = Pick<DeviceOptions, 'answerOnlyFormats' | 'strictLwm2mJson'>;

function refuse(code: string, message: string): OutgoingResponse {
  return { code, payload: Buffer.from(message, 'utf8'), contentFormat: ContentFormat.TextPlain };
}

/** Whether the checks can refuse anything at all (the device skips them otherwise). */
export function hasRequestChecks(o: RequestCheckOptions): boolean {
  return (o.answerOnlyFormats?.length ?? 0) > 0 || o.strictLwm2mJson === true;
}

/** The refusal of `req` under the device's habits, or undefined when it may be served. */
export function refuseRequest(o: RequestCheckOptions, req: IncomingRequest): OutgoingResponse | undefined {
  const cf = req.contentFormat;
  if (cf === undefined || req.payload.length === 0) return undefined;
  if (o.answerOnlyFormats?.includes(cf) === true) return refuse('4.15', `content format ${cf} is produced here, not read`);
  if (o.strictLwm2mJson === true && cf === ContentFormat.Lwm2mJson && !everyEntryNamed(req.payload)) {
    return refuse('4.06', 'every LwM2M JSON entry needs "n"');
  }
  return undefined;
}

/**
 * LwM2M JSON (TS Core 1.0 §6.4.4): `{"bn": base name, "e": [{"n": name, "v"…}]}`. A strict
 * reader takes a resource's path only as `bn` + `n`: an entry without `n` names nothing.
 * A body that is no JSON object is left to the decoder to refuse.
 */
function everyEntryNamed(payload: Buffer): boolean {
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch {
    return true;
  }
  const e = (body as { e?: unknown } | null)?.e;
  if (!Array.isArray(e)) return true;
  return e.every((entry) => typeof (entry as { n?: unknown } | null)?.n === 'string');
}

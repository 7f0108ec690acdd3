import { parseRegistrationLinks } from '../lwm2m/server/registration/registration-request';
import type { EventJson, TypedEvent } from '../events';
import type { DeviceRequestRecord, ObservationRecord, RegistrationRecord } from '../store/types';

/**
 * The device as the REST API and `--json` show it. Stable: scripts rely on these names.
 * Times are ISO 8601 strings.
 */
export interface DeviceView {
  endpoint: string;
  registrationId: string;
  address: string;
  port: number;
  lifetime: number;
  lwm2mVersion: string;
  binding: string;
  queueMode: boolean;
  smsNumber?: string;
  rootPath: string;
  objectLinks: string[];
  objects: Array<{ objectId: number; instanceId?: number; version?: string }>;
  supportedContentFormats: number[];
  registeredAt: string;
  lastSeen: string;
  expiresAt: string;
  /** /3/0/3 as the server last read it (after registration and after each update); null when unknown. */
  firmwareVersion?: string | null;
}

/** An IPv4 peer on a dual-stack socket shows as its plain dotted address. */
export function displayAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function deviceView(rec: RegistrationRecord, expiresAt: number): DeviceView {
  // Links were validated on the way in; parse again here rather than keeping the parsed form per device in memory.
  const links = parseRegistrationLinks(rec.links);
  return {
    endpoint: rec.endpoint,
    registrationId: rec.registrationId,
    address: displayAddress(rec.address),
    port: rec.port,
    lifetime: rec.lifetime,
    lwm2mVersion: rec.lwm2mVersion,
    binding: rec.binding,
    queueMode: rec.queueMode,
    ...(rec.smsNumber === undefined ? {} : { smsNumber: rec.smsNumber }),
    rootPath: links.rootPath,
    objectLinks: links.objectLinks,
    objects: links.objects.map((o) => ({ ...o })),
    supportedContentFormats: links.contentFormats,
    registeredAt: new Date(rec.registeredAt).toISOString(),
    lastSeen: new Date(rec.lastSeen).toISOString(),
    expiresAt: new Date(expiresAt).toISOString(),
  };
}

/** One event as the REST event stream sends it (src/events.ts's EventJson). */
export type EventView = EventJson;

export function eventView(e: TypedEvent): EventView {
  // Built per event of the union (TS does not correlate `type` and `data` through a spread).
  return {
    id: e.id,
    type: e.type,
    ...(e.endpoint === undefined ? {} : { endpoint: e.endpoint }),
    time: new Date(e.time).toISOString(),
    data: e.data,
  } as EventView;
}

/** A queued device request as the REST API shows it (`/api/devices/:ep/requests/:id`). */
export interface DeviceRequestView {
  id: string;
  endpoint: string;
  operation: string;
  /** queued · sending · completed · failed · cancelled */
  state: string;
  request: Record<string, unknown>;
  attempts: number;
  /** The device's answer (same shape as a direct answer), once completed. */
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
  createdAt: string;
  updatedAt: string;
}

export function deviceRequestView(r: DeviceRequestRecord): DeviceRequestView {
  return {
    id: r.id,
    endpoint: r.endpoint,
    operation: r.request.operation,
    state: r.state,
    request: { ...r.request },
    attempts: r.attempts,
    ...(r.result === undefined ? {} : { result: { ...r.result } }),
    ...(r.error === undefined ? {} : { error: { code: r.error.code, message: r.error.message } }),
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
  };
}

/** A live observation as the REST API shows it. */
export interface ObservationView {
  observationId: string;
  endpoint: string;
  kind: 'single' | 'composite';
  paths: string[];
  format?: number;
  createdAt: string;
}

export function observationView(o: ObservationRecord): ObservationView {
  return {
    observationId: o.token,
    endpoint: o.endpoint,
    kind: o.kind,
    paths: [...o.paths],
    ...(o.format === undefined ? {} : { format: o.format }),
    createdAt: new Date(o.createdAt).toISOString(),
  };
}

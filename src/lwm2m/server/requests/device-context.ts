/** What the server knows about one registered device when it talks to it. */
import type { Peer } from '../../../coap/types';
import type { RegistrationRecord } from '../../../store/types';
import type { Lwm2mVersion } from '../../core/content-formats/registry';
import type { ModelRegistry } from '../../core/model/registry';
import type { Lwm2mModel } from '../../core/model/types';
import { normalizeVersion } from '../../core/model/version';
import { parseRegistrationLinks } from '../registration/registration-request';

export interface DeviceContext {
  readonly endpoint: string;
  readonly registrationId: string;
  /** Where requests go: the address and port of the device's last register/update. */
  readonly peer: Peer;
  readonly lwm2mVersion: Lwm2mVersion;
  /** The model as this device sees it: each object in the version it registered with. */
  readonly model: Lwm2mModel;
  /** The alternate root path ("/" unless the device announced `</path>;rt="oma.lwm2m"`). */
  readonly rootPath: string;
  /** Content formats the device announced (`ct` on its root link, 1.1+); [] when it said nothing. */
  readonly contentFormats: readonly number[];
  readonly queueMode: boolean;
  /** Object and object instance links of the registration ("/3/0", "/5"). */
  readonly objectLinks: readonly string[];
}

const cache = new WeakMap<RegistrationRecord, WeakMap<ModelRegistry, DeviceContext>>();

function lwm2mVersionOf(text: string): Lwm2mVersion {
  return text === '1.1' || text === '1.2' ? text : '1.0';
}

/**
 * The context of a registration: peer, version, the device's model (`forDevice` with the
 * object versions of its registration links), root path and announced formats. Cached per
 * record (a record is replaced, not changed, on every update).
 */
export function deviceContext(rec: RegistrationRecord, models: ModelRegistry): DeviceContext {
  let byModels = cache.get(rec);
  const hit = byModels?.get(models);
  if (hit !== undefined) return hit;
  const links = parseRegistrationLinks(rec.links);
  const versions = new Map<number, string>();
  for (const o of links.objects) {
    const v = o.version === undefined ? undefined : normalizeVersion(o.version);
    if (v !== undefined) versions.set(o.objectId, v);
  }
  const ctx: DeviceContext = {
    endpoint: rec.endpoint,
    registrationId: rec.registrationId,
    peer: { address: rec.address, port: rec.port },
    lwm2mVersion: lwm2mVersionOf(rec.lwm2mVersion),
    model: models.forDevice(versions),
    rootPath: links.rootPath,
    contentFormats: links.contentFormats,
    queueMode: rec.queueMode,
    objectLinks: links.objectLinks,
  };
  if (byModels === undefined) {
    byModels = new WeakMap();
    cache.set(rec, byModels);
  }
  byModels.set(models, ctx);
  return ctx;
}

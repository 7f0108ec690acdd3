/**
 * Every loaded object definition, several versions of one object side by side, and the
 * per-device choice among them.
 */
import type { Lwm2mModel, ObjectModel, ResourceModel } from './types';
import { compareVersions, normalizeVersion, parseVersion, type Version } from './version';

/** Object versions a device announced at registration, object id → "major.minor". */
export type ObjectVersions = ReadonlyMap<number, string> | Readonly<Record<number, string>>;

export interface ModelRegistry extends Lwm2mModel {
  /**
   * The definition of `objectId` in `version` ("1.1"). Without a version, 1.0 — what TS Core
   * §6.2.2 says a registration without `ver` means. An unknown version falls back to the
   * closest lower one; when every known version is higher, the lowest known one.
   */
  getObject(objectId: number, version?: string): ObjectModel | undefined;
  getResource(objectId: number, resourceId: number, version?: string): ResourceModel | undefined;
  /** Every definition, by object id then version. */
  list(): readonly ObjectModel[];
  /** Known versions of one object, ascending ([] when unknown). */
  versions(objectId: number): readonly string[];
  /**
   * The model as one device sees it: each object in the version it registered with
   * (`</5>;ver=1.1` → 5 ↦ "1.1"); objects it did not mention in 1.0.
   */
  forDevice(objectVersions: ObjectVersions): Lwm2mModel;
}

interface Entry {
  readonly version: Version;
  readonly model: ObjectModel;
  readonly byResource: ReadonlyMap<number, ResourceModel>;
}

function versionOf(text: string): Version {
  return parseVersion(normalizeVersion(text) ?? '1.0') ?? { major: 1, minor: 0 };
}

class StaticModelRegistry implements ModelRegistry {
  private readonly byObject = new Map<number, Entry[]>();

  constructor(objects: Iterable<ObjectModel>) {
    for (const model of objects) {
      const version = versionOf(model.version);
      const entry: Entry = { version, model, byResource: new Map(model.resources.map((r) => [r.id, r])) };
      const list = this.byObject.get(model.id) ?? [];
      const same = list.findIndex((e) => compareVersions(e.version, version) === 0);
      // A later definition of the same object and version replaces the earlier one: a
      // user's folder is loaded after the shipped objects and overrides them.
      if (same >= 0) list[same] = entry;
      else list.push(entry);
      list.sort((a, b) => compareVersions(a.version, b.version));
      this.byObject.set(model.id, list);
    }
  }

  private resolve(objectId: number, version: string | undefined): Entry | undefined {
    const list = this.byObject.get(objectId);
    if (list === undefined || list.length === 0) return undefined;
    const wanted = versionOf(version ?? '1.0');
    let best: Entry | undefined;
    for (const e of list) {
      if (compareVersions(e.version, wanted) <= 0) best = e;
    }
    return best ?? list[0];
  }

  getObject(objectId: number, version?: string): ObjectModel | undefined {
    return this.resolve(objectId, version)?.model;
  }

  getResource(objectId: number, resourceId: number, version?: string): ResourceModel | undefined {
    return this.resolve(objectId, version)?.byResource.get(resourceId);
  }

  list(): readonly ObjectModel[] {
    return [...this.byObject.keys()]
      .sort((a, b) => a - b)
      .flatMap((id) => (this.byObject.get(id) ?? []).map((e) => e.model));
  }

  versions(objectId: number): readonly string[] {
    return (this.byObject.get(objectId) ?? []).map((e) => `${e.version.major}.${e.version.minor}`);
  }

  forDevice(objectVersions: ObjectVersions): Lwm2mModel {
    const lookup = (id: number): string | undefined =>
      objectVersions instanceof Map ? objectVersions.get(id) : (objectVersions as Readonly<Record<number, string>>)[id];
    return {
      getObject: (objectId) => this.getObject(objectId, lookup(objectId)),
      getResource: (objectId, resourceId) => this.getResource(objectId, resourceId, lookup(objectId)),
    };
  }
}

/**
 * A registry over the given definitions; later ones replace earlier ones with the same
 * object id and version.
 *
 * @example createModelRegistry(parseDdf(xml)).getObject(5, '1.1')?.resources.length
 */
export function createModelRegistry(objects: Iterable<ObjectModel>): ModelRegistry {
  return new StaticModelRegistry(objects);
}

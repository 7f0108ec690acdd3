/**
 * The LwM2M object model as loaded from OMA DDF XML object definitions
 * (OMA-TS-LightweightM2M_Core §6 and the LWM2M.xsd schema).
 */

/** Resource data types (TS Core Appendix C), plus `none` for executable resources. */
export const ResourceType = {
  Integer: 'integer',
  Unsigned: 'unsigned',
  Float: 'float',
  Boolean: 'boolean',
  String: 'string',
  Opaque: 'opaque',
  Time: 'time',
  Objlnk: 'objlnk',
  Corelnk: 'corelnk',
  None: 'none',
} as const;
export type ResourceType = (typeof ResourceType)[keyof typeof ResourceType];

/** Every data type that carries a value (all but `none`). */
export type ValueType = Exclude<ResourceType, 'none'>;

export const VALUE_TYPES: readonly ValueType[] = [
  'integer',
  'unsigned',
  'float',
  'boolean',
  'string',
  'opaque',
  'time',
  'objlnk',
  'corelnk',
];

/**
 * Operations a resource allows. `''` (none) is what the Security object and a few
 * bootstrap-only resources declare: no access through the Device Management interface.
 */
export type Operations = 'R' | 'W' | 'RW' | 'E' | '';

/** A numeric range from `RangeEnumeration` ("0..255", "1-65534"); bounds are inclusive. */
export interface NumericRange {
  readonly min: number;
  readonly max: number;
}

export interface ResourceModel {
  readonly id: number;
  readonly name: string;
  readonly operations: Operations;
  readonly multiple: boolean;
  readonly mandatory: boolean;
  readonly type: ResourceType;
  /** `RangeEnumeration` as written ('' when absent). */
  readonly rangeEnumeration: string;
  /** The range when `rangeEnumeration` is a numeric interval, else undefined. */
  readonly range: NumericRange | undefined;
  readonly units: string;
  readonly description: string;
}

export interface ObjectModel {
  readonly id: number;
  readonly name: string;
  /** ObjectVersion, "major.minor"; "1.0" when the file says nothing. */
  readonly version: string;
  /** LWM2MVersion, "major.minor"; "1.0" when the file says nothing. */
  readonly lwm2mVersion: string;
  readonly urn: string;
  readonly multiple: boolean;
  readonly mandatory: boolean;
  readonly description: string;
  readonly description2: string;
  /** Resources by ascending id. */
  readonly resources: readonly ResourceModel[];
  /** Where the definition came from (a file path, or '<memory>'). */
  readonly source: string;
}

/**
 * The view of the model that codecs and path validation need: one version of each object,
 * already chosen (a device's view, or the registry's defaults).
 */
export interface Lwm2mModel {
  getObject(objectId: number): ObjectModel | undefined;
  getResource(objectId: number, resourceId: number): ResourceModel | undefined;
}

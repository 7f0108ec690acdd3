/** The contracts every content-format codec implements. */
import type { LwM2mPath } from '../model/path';
import type { Lwm2mModel } from '../model/types';
import type { Lwm2mNode } from './node';

/**
 * Encodes and decodes nodes in one content format. Encoders check the node against the
 * path (ERR_LWM2M_PATH) and the values against their types and the model (ERR_LWM2M_VALUE).
 * Decoders return a whole node or throw ERR_LWM2M_CONTENT_FORMAT with `context.offset`.
 */
export interface NodeCodec {
  /** The CoAP Content-Format number. */
  readonly format: number;
  readonly mediaType: string;
  encode(node: Lwm2mNode, path: LwM2mPath, model: Lwm2mModel): Buffer;
  decode(bytes: Buffer, path: LwM2mPath, model: Lwm2mModel): Lwm2mNode;
}

/** One part of a Read-Composite response or Write-Composite request: a node at an absolute path. */
export interface CompositeEntry {
  readonly path: LwM2mPath;
  readonly node: Lwm2mNode;
}

/** Formats that carry several absolute paths at once (SenML JSON/CBOR, LwM2M CBOR). */
export interface CompositeCodec extends NodeCodec {
  /** A Read-Composite response or Write-Composite request body. */
  encodeComposite(entries: readonly CompositeEntry[], model: Lwm2mModel): Buffer;
  /**
   * Decodes a composite body. With `paths` (the paths that were asked for), values are
   * grouped into one node per path that has data; a value under none of them is an error.
   * Without, each value becomes its own resource or resource-instance entry.
   */
  decodeComposite(bytes: Buffer, model: Lwm2mModel, paths?: readonly LwM2mPath[]): CompositeEntry[];
  /** The body of a Read-Composite (or Observe-Composite) request: a list of paths. */
  encodePaths(paths: readonly LwM2mPath[]): Buffer;
  decodePaths(bytes: Buffer): LwM2mPath[];
}

export function isCompositeCodec(c: NodeCodec): c is CompositeCodec {
  return typeof (c as Partial<CompositeCodec>).encodeComposite === 'function';
}

/** application/octet-stream (Content-Format 42), TS Core §7.4 (opaque): the bytes of one Opaque value. */
import type { LwM2mPath } from '../model/path';
import type { Lwm2mModel } from '../model/types';
import type { NodeCodec } from './codec';
import type { Lwm2mNode } from './node';
import { singleNode, singleTarget, singleValueOf } from './single-value';
import { contentError, valueError } from './values';

export class OpaqueCodec implements NodeCodec {
  readonly format = 42;
  readonly mediaType = 'application/octet-stream';

  encode(node: Lwm2mNode, path: LwM2mPath, model: Lwm2mModel): Buffer {
    const v = singleValueOf(node, path, model, 'application/octet-stream');
    if (v.type !== 'opaque') throw valueError(`application/octet-stream carries opaque values only, not ${v.type}`);
    return Buffer.from(v.value);
  }

  decode(bytes: Buffer, path: LwM2mPath, model: Lwm2mModel): Lwm2mNode {
    const m = singleTarget(path, model, 'application/octet-stream');
    if (m !== undefined && m.type !== 'opaque') {
      throw contentError(`application/octet-stream carries opaque values; the resource is ${m.type}`, 0);
    }
    return singleNode(path, { type: 'opaque', value: Buffer.from(bytes) });
  }
}

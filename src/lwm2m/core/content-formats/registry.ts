/**
 * The content formats a server speaks, keyed by Content-Format number. Built with
 * `createContentFormatRegistry()` and passed to whoever needs it — never a global.
 */
import { ContentFormat as CoapContentFormat } from '../../../coap/types';
import { Lwm2mFotaError, isLwm2mFotaError } from '../../../errors';
import type { LwM2mPath } from '../model/path';
import type { Lwm2mModel } from '../model/types';
import { isCompositeCodec, type CompositeCodec, type CompositeEntry, type NodeCodec } from './codec';
import { LinkFormatCodec, type Link } from './link-format';
import { Lwm2mCborCodec } from './lwm2m-cbor';
import { Lwm2mJsonCodec } from './lwm2m-json';
import type { Lwm2mNode } from './node';
import { OpaqueCodec } from './opaque';
import { PlainCborCodec } from './plain-cbor';
import { SenmlCborCodec } from './senml-cbor';
import { SenmlJsonCodec } from './senml-json';
import { TextCodec } from './text';
import { TlvCodec } from './tlv';
import { contentError } from './values';

/** Content-Format numbers (IANA CoAP Content-Formats registry): the CoAP layer's one definition. */
export const ContentFormat = CoapContentFormat;

export interface ContentFormatRegistry {
  /** Adds or replaces the codec for `codec.format`. */
  register(codec: NodeCodec): void;
  get(format: number): NodeCodec | undefined;
  has(format: number): boolean;
  /** Registered node formats, ascending (the link format excluded). */
  formats(): number[];
  /**
   * Encodes `node` at `path`.
   * @throws ERR_LWM2M_UNSUPPORTED_FORMAT, ERR_LWM2M_PATH, ERR_LWM2M_VALUE.
   */
  encode(format: number, node: Lwm2mNode, path: LwM2mPath, model: Lwm2mModel): Buffer;
  /**
   * Decodes whatever registered format came back (the response's Content-Format).
   * @throws ERR_LWM2M_UNSUPPORTED_FORMAT for an unregistered format; ERR_LWM2M_CONTENT_FORMAT
   *   (with `context.offset`) for a payload that does not decode.
   */
  decode(format: number, bytes: Buffer, path: LwM2mPath, model: Lwm2mModel): Lwm2mNode;
  encodeComposite(format: number, entries: readonly CompositeEntry[], model: Lwm2mModel): Buffer;
  decodeComposite(format: number, bytes: Buffer, model: Lwm2mModel, paths?: readonly LwM2mPath[]): CompositeEntry[];
  encodePaths(format: number, paths: readonly LwM2mPath[]): Buffer;
  decodePaths(format: number, bytes: Buffer): LwM2mPath[];
  /** Discover answers and registration payloads (Content-Format 40). */
  encodeLinks(links: readonly Link[]): Buffer;
  decodeLinks(bytes: Buffer): Link[];
}

export interface ContentFormatRegistryOptions {
  /** The codecs to start with; default: every format this package implements. */
  readonly codecs?: readonly NodeCodec[];
}

/** Every codec this package implements, one instance each. */
export function defaultCodecs(): NodeCodec[] {
  return [
    new TextCodec(),
    new OpaqueCodec(),
    new PlainCborCodec(),
    new TlvCodec(),
    new Lwm2mJsonCodec(),
    new SenmlJsonCodec(),
    new SenmlCborCodec(),
    new Lwm2mCborCodec(),
  ];
}

function unsupported(format: number, what = ''): never {
  throw new Lwm2mFotaError('ERR_LWM2M_UNSUPPORTED_FORMAT', `no ${what}codec registered for content format ${format}`, {
    context: { format },
  });
}

/** Decoders promise ERR_LWM2M_CONTENT_FORMAT only; anything else escaping one is a bug, reported as such. */
function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isLwm2mFotaError(err)) throw err;
    throw contentError(`decoder failure: ${(err as Error).message}`, 0, err);
  }
}

class DefaultContentFormatRegistry implements ContentFormatRegistry {
  private readonly codecs = new Map<number, NodeCodec>();
  private readonly links = new LinkFormatCodec();

  constructor(codecs: readonly NodeCodec[]) {
    for (const c of codecs) this.register(c);
  }

  register(codec: NodeCodec): void {
    this.codecs.set(codec.format, codec);
  }

  get(format: number): NodeCodec | undefined {
    return this.codecs.get(format);
  }

  has(format: number): boolean {
    return this.codecs.has(format);
  }

  formats(): number[] {
    return [...this.codecs.keys()].sort((a, b) => a - b);
  }

  private codec(format: number): NodeCodec {
    return this.codecs.get(format) ?? unsupported(format);
  }

  private composite(format: number): CompositeCodec {
    const c = this.codecs.get(format);
    return c !== undefined && isCompositeCodec(c) ? c : unsupported(format, 'composite ');
  }

  encode(format: number, node: Lwm2mNode, path: LwM2mPath, model: Lwm2mModel): Buffer {
    return this.codec(format).encode(node, path, model);
  }

  decode(format: number, bytes: Buffer, path: LwM2mPath, model: Lwm2mModel): Lwm2mNode {
    const c = this.codec(format);
    return guard(() => c.decode(bytes, path, model));
  }

  encodeComposite(format: number, entries: readonly CompositeEntry[], model: Lwm2mModel): Buffer {
    return this.composite(format).encodeComposite(entries, model);
  }

  decodeComposite(format: number, bytes: Buffer, model: Lwm2mModel, paths?: readonly LwM2mPath[]): CompositeEntry[] {
    const c = this.composite(format);
    return guard(() => c.decodeComposite(bytes, model, paths));
  }

  encodePaths(format: number, paths: readonly LwM2mPath[]): Buffer {
    return this.composite(format).encodePaths(paths);
  }

  decodePaths(format: number, bytes: Buffer): LwM2mPath[] {
    const c = this.composite(format);
    return guard(() => c.decodePaths(bytes));
  }

  encodeLinks(links: readonly Link[]): Buffer {
    return this.links.encode(links);
  }

  decodeLinks(bytes: Buffer): Link[] {
    return guard(() => this.links.decode(bytes));
  }
}

/**
 * A registry with every format of this package (or the given codecs).
 *
 * @example
 * const formats = createContentFormatRegistry();
 * const node = formats.decode(ContentFormat.Tlv, payload, parsePath('/3/0'), model);
 */
export function createContentFormatRegistry(options: ContentFormatRegistryOptions = {}): ContentFormatRegistry {
  return new DefaultContentFormatRegistry(options.codecs ?? defaultCodecs());
}

export type Lwm2mVersion = '1.0' | '1.1' | '1.2';
export type RequestKind = 'single' | 'multi' | 'composite';

/**
 * The Content-Formats to ask for (Accept), best first, by the device's LwM2M version and
 * what is read: one value ('single'), an instance / object / multiple resource ('multi'),
 * or several paths ('composite', LwM2M 1.1+; [] for 1.0).
 *
 * - 1.0: TLV is the mandatory multi-value format (1.0 §6.4); text for single values, TLV
 *   as fallback.
 * - 1.1: SenML CBOR first (compact, and composite-capable), SenML JSON, then TLV/text.
 * - 1.2: LwM2M CBOR first, then SenML CBOR, then the 1.1 list.
 */
export function preferredFormats(lwm2mVersion: Lwm2mVersion, kind: RequestKind): number[] {
  const F = ContentFormat;
  switch (lwm2mVersion) {
    case '1.0':
      return kind === 'single' ? [F.TextPlain, F.Tlv] : kind === 'multi' ? [F.Tlv, F.Lwm2mJson] : [];
    case '1.1':
      return kind === 'single'
        ? [F.SenmlCbor, F.TextPlain, F.SenmlJson, F.Tlv]
        : kind === 'multi'
          ? [F.SenmlCbor, F.SenmlJson, F.Tlv]
          : [F.SenmlCbor, F.SenmlJson];
    case '1.2':
      return kind === 'single'
        ? [F.Lwm2mCbor, F.SenmlCbor, F.TextPlain, F.SenmlJson, F.Tlv]
        : kind === 'multi'
          ? [F.Lwm2mCbor, F.SenmlCbor, F.SenmlJson, F.Tlv]
          : [F.Lwm2mCbor, F.SenmlCbor, F.SenmlJson];
  }
}

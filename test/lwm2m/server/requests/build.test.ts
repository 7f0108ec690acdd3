import type { IncomingResponse } from '../../../../src/coap/types';
import { isLwm2mFotaError } from '../../../../src/errors';
import { multipleResource, objectInstance, resource } from '../../../../src/lwm2m/core/content-formats/node';
import { ContentFormat, createContentFormatRegistry } from '../../../../src/lwm2m/core/content-formats/registry';
import { loadObjectModels } from '../../../../src/lwm2m/core/model';
import { parsePath, type ObjectPath } from '../../../../src/lwm2m/core/model/path';
import { buildCoapRequest, checkExecuteArguments, decodeCoapResponse, readKind, validateRequest } from '../../../../src/lwm2m/server/requests/build';
import { requestFromJson, requestToJson, responseToJson } from '../../../../src/lwm2m/server/requests/json';
import type { Lwm2mRequest, ReadResponse } from '../../../../src/lwm2m/server/requests/types';

const F = ContentFormat;
const formats = createContentFormatRegistry();
const model = loadObjectModels().registry.forDevice({});
const ctx = { model, rootPath: '/', lwm2mVersion: '1.1' as const };
const p = parsePath;

function response(code: string, payload: Buffer = Buffer.alloc(0), extra: Partial<IncomingResponse> = {}): IncomingResponse {
  return { peer: { address: '::1', port: 1 }, code, payload, contentFormat: undefined, observe: undefined, locationPath: [], token: Buffer.alloc(0), options: [], ...extra };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return isLwm2mFotaError(err) ? err.code : String(err);
  }
}

describe('building CoAP requests from operations (TS Transport §6.4)', () => {
  it('reads with GET and Accept, observes with Observe 0, discovers with Accept 40', () => {
    expect(buildCoapRequest({ operation: 'read', path: p('/3/0') }, ctx, formats, F.Tlv)).toEqual({ method: 'GET', path: ['3', '0'], accept: F.Tlv });
    expect(buildCoapRequest({ operation: 'observe', path: p('/3/0/9') }, ctx, formats, F.TextPlain)).toEqual({ method: 'GET', path: ['3', '0', '9'], observe: 0, accept: 0 });
    expect(buildCoapRequest({ operation: 'discover', path: p('/3') }, ctx, formats, undefined)).toEqual({ method: 'GET', path: ['3'], accept: F.LinkFormat });
  });

  it('puts the path under the alternate root path the device registered with', () => {
    expect(buildCoapRequest({ operation: 'read', path: p('/3/0') }, { ...ctx, rootPath: '/lwm2m' }, formats, undefined).path).toEqual(['lwm2m', '3', '0']);
    expect(buildCoapRequest({ operation: 'readComposite', paths: [p('/3/0/9')] }, { ...ctx, rootPath: '/lwm2m' }, formats, F.SenmlJson).path).toEqual(['lwm2m']);
  });

  it('replaces with PUT and updates with POST, the body encoded in the chosen format', () => {
    const node = resource(1, 'integer', 300);
    const put = buildCoapRequest({ operation: 'write', mode: 'replace', path: p('/1/0/1'), node }, ctx, formats, F.TextPlain);
    expect(put).toMatchObject({ method: 'PUT', path: ['1', '0', '1'], contentFormat: 0, payload: Buffer.from('300') });
    const inst = objectInstance(0, [node]);
    const post = buildCoapRequest({ operation: 'write', mode: 'update', path: p('/1/0'), node: inst }, ctx, formats, F.Tlv);
    expect(post.method).toBe('POST');
    expect(formats.decode(F.Tlv, post.payload as Buffer, p('/1/0'), model)).toEqual(inst);
  });

  it('executes with POST and the arguments as text/plain; none means no payload', () => {
    expect(buildCoapRequest({ operation: 'execute', path: p('/3/0/4') }, ctx, formats, undefined)).toEqual({ method: 'POST', path: ['3', '0', '4'] });
    expect(buildCoapRequest({ operation: 'execute', path: p('/5/0/2'), arguments: "0='a',1" }, ctx, formats, undefined)).toMatchObject({
      payload: Buffer.from("0='a',1"),
      contentFormat: 0,
    });
  });

  it('checks execute arguments against the 1.1 grammar, only for 1.1+ devices', () => {
    for (const ok of ['', '0', "0='v'", "1,2='',3='x y'"]) expect(() => checkExecuteArguments(ok)).not.toThrow();
    for (const bad of ['x', "0='it's'", '10', "0='a'1", '0,']) expect(codeOf(() => checkExecuteArguments(bad))).toBe('ERR_LWM2M_VALUE');
    expect(() => buildCoapRequest({ operation: 'execute', path: p('/3/0/4'), arguments: 'free text' }, { ...ctx, lwm2mVersion: '1.0' }, formats, undefined)).not.toThrow();
  });

  it('creates with POST on the object: the instance inside (with id), or the resources alone (TLV, no id)', () => {
    const instance = objectInstance(2, [resource(0, 'integer', 2), resource(1, 'integer', 60)]);
    const withId = buildCoapRequest({ operation: 'create', path: p('/1') as ObjectPath, instance }, ctx, formats, F.SenmlJson);
    expect(withId).toMatchObject({ method: 'POST', path: ['1'], contentFormat: F.SenmlJson });
    expect(formats.decode(F.SenmlJson, withId.payload as Buffer, p('/1'), model)).toEqual({ kind: 'object', id: 1, instances: [instance] });
    const noId = buildCoapRequest({ operation: 'create', path: p('/1') as ObjectPath, instance: { kind: 'objectInstance', id: undefined, resources: instance.resources } }, ctx, formats, F.Tlv);
    expect(formats.decode(F.Tlv, noId.payload as Buffer, p('/1/0'), model)).toEqual(objectInstance(0, instance.resources));
    expect(
      codeOf(() => buildCoapRequest({ operation: 'create', path: p('/1') as ObjectPath, instance: { kind: 'objectInstance', id: undefined, resources: [] } }, ctx, formats, F.SenmlCbor)),
    ).toBe('ERR_LWM2M_VALUE');
  });

  it('writes attributes with PUT and Uri-Query, deletes with DELETE', () => {
    expect(buildCoapRequest({ operation: 'writeAttributes', path: p('/3/0/9'), attributes: { pmax: 60, pmin: 1 } }, ctx, formats, undefined)).toEqual({
      method: 'PUT',
      path: ['3', '0', '9'],
      query: ['pmin=1', 'pmax=60'],
    });
    expect(buildCoapRequest({ operation: 'delete', path: p('/1/1') }, ctx, formats, undefined)).toEqual({ method: 'DELETE', path: ['1', '1'] });
  });

  it('reads and observes composite with FETCH on the root, writes composite with iPATCH', () => {
    const paths = [p('/3/0/9'), p('/1/0/1')];
    const read = buildCoapRequest({ operation: 'readComposite', paths }, ctx, formats, F.SenmlCbor);
    expect(read).toMatchObject({ method: 'FETCH', path: [], contentFormat: F.SenmlCbor, accept: F.SenmlCbor });
    expect(formats.decodePaths(F.SenmlCbor, read.payload as Buffer)).toEqual(paths);
    expect(buildCoapRequest({ operation: 'observeComposite', paths }, ctx, formats, F.SenmlJson)).toMatchObject({ method: 'FETCH', observe: 0 });
    const entries = [{ path: p('/1/0/1'), node: resource(1, 'integer', 5) }];
    const w = buildCoapRequest({ operation: 'writeComposite', entries }, ctx, formats, F.Lwm2mCbor);
    expect(w).toMatchObject({ method: 'iPATCH', path: [], contentFormat: F.Lwm2mCbor });
    expect(formats.decodeComposite(F.Lwm2mCbor, w.payload as Buffer, model)).toEqual(entries);
  });
});

describe('decoding answers into values', () => {
  const read: Lwm2mRequest = { operation: 'read', path: p('/3/0/9') };

  it('decodes content in whatever format came back, not only the one asked for', () => {
    const tlv = formats.encode(F.Tlv, resource(9, 'integer', 87), p('/3/0/9'), model);
    const r = decodeCoapResponse(read, response('2.05', tlv, { contentFormat: F.Tlv }), ctx, formats, F.TextPlain) as ReadResponse;
    expect(r).toEqual({ operation: 'read', path: p('/3/0/9'), code: '2.05', success: true, format: F.Tlv, content: resource(9, 'integer', 87) });
  });

  it('takes a payload without Content-Format as the format asked for', () => {
    const r = decodeCoapResponse(read, response('2.05', Buffer.from('87')), ctx, formats, F.TextPlain) as ReadResponse;
    expect(r.content).toEqual(resource(9, 'integer', 87));
  });

  it('keeps error codes and their diagnostic as values', () => {
    expect(decodeCoapResponse(read, response('4.04', Buffer.from('no battery')), ctx, formats, 0)).toEqual({
      operation: 'read',
      path: p('/3/0/9'),
      code: '4.04',
      success: false,
      diagnostic: 'no battery',
    });
  });

  it('throws ERR_LWM2M_CONTENT_FORMAT when a success answer does not decode', () => {
    expect(codeOf(() => decodeCoapResponse(read, response('2.05', Buffer.from('eighty'), { contentFormat: 0 }), ctx, formats, 0))).toBe('ERR_LWM2M_CONTENT_FORMAT');
  });

  it('reads the new instance from Location-Path, links from Discover, entries from Read-Composite', () => {
    const created = decodeCoapResponse(
      { operation: 'create', path: p('/1') as ObjectPath, instance: objectInstance(4, []) },
      response('2.01', Buffer.alloc(0), { locationPath: ['lwm2m', '1', '4'] }),
      { ...ctx, rootPath: '/lwm2m' },
      formats,
      F.Tlv,
    );
    expect(created).toMatchObject({ code: '2.01', location: '/1/4' });
    const links = decodeCoapResponse({ operation: 'discover', path: p('/3/0') }, response('2.05', Buffer.from('</3/0>,</3/0/6>;dim=2')), ctx, formats, undefined);
    expect(responseToJson(links, model).links).toEqual([
      { uri: '/3/0', path: '/3/0', attributes: {} },
      { uri: '/3/0/6', path: '/3/0/6', attributes: { dim: '2' } },
    ]);
    const entries = [{ path: p('/3/0/6'), node: multipleResource(6, 'integer', { 0: 1 }) }];
    const comp = decodeCoapResponse(
      { operation: 'readComposite', paths: [p('/3/0/6')] },
      response('2.05', formats.encodeComposite(F.SenmlJson, entries, model), { contentFormat: F.SenmlJson }),
      ctx,
      formats,
      F.SenmlCbor,
    );
    expect(comp).toMatchObject({ code: '2.05', format: F.SenmlJson, entries });
  });

  it('says which reads return one value and which a tree', () => {
    expect(readKind(p('/3/0/9'), model)).toBe('single');
    expect(readKind(p('/3/0/6'), model)).toBe('multi');
    expect(readKind(p('/3/0/6/0'), model)).toBe('single');
    expect(readKind(p('/3/0'), model)).toBe('multi');
  });
});

describe('request validation and the JSON form of requests', () => {
  it.each([
    [{ operation: 'read', path: p('/42/0') }, 'ERR_LWM2M_PATH'],
    [{ operation: 'write', mode: 'replace', path: p('/1'), node: resource(1, 'integer', 1) }, 'ERR_LWM2M_PATH'],
    [{ operation: 'write', mode: 'update', path: p('/3/0/6/0'), node: resource(0, 'integer', 1) }, 'ERR_LWM2M_PATH'],
    [{ operation: 'execute', path: p('/3/0/9') }, 'ERR_LWM2M_PATH'],
    [{ operation: 'create', path: p('/1/0') }, 'ERR_LWM2M_PATH'],
    [{ operation: 'delete', path: p('/1/0/1') }, 'ERR_LWM2M_PATH'],
    [{ operation: 'discover', path: p('/3/0/6/0') }, 'ERR_LWM2M_PATH'],
    [{ operation: 'readComposite', paths: [] }, 'ERR_LWM2M_PATH'],
    [{ operation: 'writeAttributes', path: p('/3/0/9'), attributes: { pmin: 5, pmax: 1 } }, 'ERR_LWM2M_ATTRIBUTES'],
  ] as Array<[Lwm2mRequest, string]>)('refuses %j', (req, code) => {
    expect(codeOf(() => validateRequest(req, model))).toBe(code);
  });

  it('round-trips every operation through JSON (what the queue stores)', () => {
    const requests: Lwm2mRequest[] = [
      { operation: 'read', path: p('/3/0'), format: F.Tlv },
      { operation: 'write', mode: 'update', path: p('/1/0'), node: objectInstance(0, [resource(1, 'integer', 60)]) },
      { operation: 'write', mode: 'replace', path: p('/5/0/0'), node: resource(0, 'opaque', Buffer.from([1, 2])) },
      { operation: 'execute', path: p('/3/0/4'), arguments: "0='x'" },
      { operation: 'create', path: p('/1') as ObjectPath, instance: objectInstance(3, [resource(0, 'integer', 3)]) },
      { operation: 'create', path: p('/1') as ObjectPath, instance: { kind: 'objectInstance', id: undefined, resources: [resource(0, 'integer', 3)] } },
      { operation: 'delete', path: p('/1/3') },
      { operation: 'discover', path: p('/3') },
      { operation: 'writeAttributes', path: p('/3/0/9'), attributes: { pmin: 1, lt: null } },
      { operation: 'observe', path: p('/3/0/9') },
      { operation: 'readComposite', paths: [p('/3/0/9'), p('/1/0/1')] },
      { operation: 'observeComposite', paths: [p('/3/0/9')], format: F.SenmlJson },
      { operation: 'writeComposite', entries: [{ path: p('/1/0/1'), node: resource(1, 'integer', 9) }] },
    ];
    for (const req of requests) {
      const json = JSON.parse(JSON.stringify(requestToJson(req, model)));
      expect(requestFromJson(json, model)).toEqual(req);
    }
    expect(codeOf(() => requestFromJson({ operation: 'reboot' }, model))).toBe('ERR_LWM2M_VALUE');
  });
});

/**
 * The firmware repository of a real server over real UDP on loopback: libcoap's
 * coap-client fetching envelopes and payloads byte-exact, our own endpoint client at the
 * smallest and largest block sizes, the options a device relies on (ETag, Size2,
 * Content-Format), error codes, and the REST API with its event stream.
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCoapEndpoint, type CoapEndpoint } from '../../src/coap';
import { MessageType, decode, decodeBlock, decodeUint, encode, encodeBlock, findOption, type Message } from '../../src/coap/message';
import type { OutgoingResponse } from '../../src/coap/types';
import { firmwareRequestHandler } from '../../src/fota/firmware';
import { isEvent } from '../../src/events';
import { createServer, type Lwm2mFotaServer } from '../../src/server';
import { resolveUriReference } from '../../src/suit';
import { run } from '../helpers/cli';
import { tempDir } from '../helpers/tmp';
import { envelopeFor, image, oem, sha256, stranger } from '../fota/firmware/fixtures';

const FAST = { ackTimeoutMs: 300, ackRandomFactor: 1.0, maxRetransmit: 3 };
const IMAGE = image(20_000, 42);

let tmp: ReturnType<typeof tempDir>;
let server: Lwm2mFotaServer;
let client: CoapEndpoint;
let envelope: Buffer;
let id: string;
let base: string;
let api: string;
let raw: Socket;

beforeAll(async () => {
  tmp = tempDir('fw-int-');
  writeFileSync(join(tmp.dir, 'oem.pub.pem'), oem.publicPem);
  server = await createServer({
    dataDir: join(tmp.dir, 'data'),
    coapPort: 0,
    coapHost: '::',
    httpPort: 0,
    token: 'test-token',
    trust: [join(tmp.dir, 'oem.pub.pem')],
  });
  client = await createCoapEndpoint({ port: 0, host: '::1', transmission: FAST });
  envelope = envelopeFor(IMAGE);
  id = (await server.firmware.add(envelope, IMAGE)).id;
  base = `coap://[::1]:${server.coap.address().port}`;
  api = `http://127.0.0.1:${server.api!.address().port}`;
  raw = createSocket('udp6');
  await new Promise<void>((r) => raw.bind(0, '::1', () => r()));
});

afterAll(async () => {
  raw.close();
  await client.close();
  await server.close();
  tmp.remove();
});

const peer = (): { address: string; port: number } => ({ address: '::1', port: server.coap.address().port });

let mid = 1;
/** One confirmable GET datagram and its answer, options exactly as given. */
async function exchange(path: string, options: Array<{ number: number; value: Buffer }> = [], method = 1): Promise<Message> {
  const m = mid++ & 0xffff;
  const opts = [...path.split('/').filter(Boolean).map((s) => ({ number: 11, value: Buffer.from(s) })), ...options].sort((a, b) => a.number - b.number);
  const dg = encode(MessageType.CON, method, m, Buffer.from([m >> 8, m & 0xff]), opts, undefined);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no answer')), 3000);
    const on = (buf: Buffer): void => {
      const msg = decode(buf);
      if (msg.messageId !== m) return;
      clearTimeout(t);
      raw.off('message', on);
      resolve(msg);
    };
    raw.on('message', on);
    raw.send(dg, peer().port, '::1');
  });
}

const codeOf = (m: Message): string => `${m.code >> 5}.${String(m.code & 31).padStart(2, '0')}`;

describe('libcoap coap-client fetches from /fw/<digest>', () => {
  it.each([64, 1024])('the envelope, byte-exact, with -b %i', async (size) => {
    const out = join(tmp.dir, `env-${size}.out`);
    const r = await run('coap-client-notls', ['-b', String(size), '-o', out, `${base}/fw/${id}`]);
    expect(r.code).toBe(0);
    expect(readFileSync(out)).toEqual(envelope);
  });

  it.each([64, 1024])('the payload alone, at the image digest (the manifest’s relative URI resolved), with -b %i', async (size) => {
    const rec = server.firmware.get(id)!;
    const uri = resolveUriReference(`${base}/fw/${id}`, rec.images[0]!.uri!);
    expect(uri).toBe(`${base}/fw/${sha256(IMAGE)}`);
    const out = join(tmp.dir, `img-${size}.out`);
    const r = await run('coap-client-notls', ['-b', String(size), '-o', out, uri]);
    expect(r.code).toBe(0);
    expect(readFileSync(out)).toEqual(IMAGE);
  });
});

describe('our endpoint client', () => {
  it.each([16, 1024])('downloads envelope and payload at %i-byte blocks', async (size) => {
    const env = await client.request(peer(), { method: 'GET', path: `/fw/${id}`, block2Size: size });
    expect(env.code).toBe('2.05');
    expect(env.payload).toEqual(envelope);
    expect(env.contentFormat).toBe(42);
    const img = await client.request(peer(), { method: 'GET', path: `/fw/${sha256(IMAGE)}`, block2Size: size });
    expect(img.payload).toEqual(IMAGE);
  });
});

describe('what a device sees on the wire', () => {
  it('answers a Size2=0 query with the total size and the first block', async () => {
    const m = await exchange(`/fw/${sha256(IMAGE)}`, [{ number: 28, value: Buffer.alloc(0) }]);
    expect(codeOf(m)).toBe('2.05');
    expect(decodeUint(findOption(m.options, 28)!)).toBe(IMAGE.length);
    const b2 = decodeBlock(findOption(m.options, 23)!)!;
    expect(b2).toMatchObject({ num: 0, more: true });
    expect(m.payload).toEqual(IMAGE.subarray(0, b2.size));
  });

  it('sends every block size 16..1024 the client asks for, with Size2, Content-Format 42 and one stable ETag', async () => {
    const etags = new Set<string>();
    for (let szx = 0; szx <= 6; szx++) {
      const size = 16 << szx;
      const num = 3;
      const m = await exchange(`/fw/${sha256(IMAGE)}`, [{ number: 23, value: encodeBlock(num, false, szx) }]);
      expect(codeOf(m)).toBe('2.05');
      expect(m.payload).toEqual(IMAGE.subarray(num * size, (num + 1) * size));
      expect(decodeBlock(findOption(m.options, 23)!)).toMatchObject({ num, size, more: true });
      expect(decodeUint(findOption(m.options, 28)!)).toBe(IMAGE.length);
      expect(decodeUint(findOption(m.options, 12)!)).toBe(42);
      etags.add(findOption(m.options, 4)!.toString('hex'));
    }
    // the last block: M = 0
    const last = await exchange(`/fw/${sha256(IMAGE)}`, [{ number: 23, value: encodeBlock(19, false, 6) }]);
    expect(decodeBlock(findOption(last.options, 23)!)).toMatchObject({ num: 19, more: false });
    expect(last.payload).toEqual(IMAGE.subarray(19 * 1024));
    etags.add(findOption(last.options, 4)!.toString('hex'));
    expect([...etags]).toEqual([sha256(IMAGE).slice(0, 16)]);
    const env = await exchange(`/fw/${id}`);
    expect(findOption(env.options, 4)!.toString('hex')).toBe(id.slice(0, 16));
  });

  it('answers a retransmitted block request again, with the same block (an idempotent GET)', async () => {
    const m = mid++ & 0xffff;
    const opts = [
      ...['fw', sha256(IMAGE)].map((s) => ({ number: 11, value: Buffer.from(s) })),
      { number: 23, value: encodeBlock(5, false, 6) },
    ];
    const dg = encode(MessageType.CON, 1, m, Buffer.from([1, 2]), opts, undefined);
    const answers: Message[] = [];
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${answers.length} answers`)), 3000);
      const on = (buf: Buffer): void => {
        const msg = decode(buf);
        if (msg.messageId !== m) return;
        answers.push(msg);
        if (answers.length === 2) {
          clearTimeout(t);
          raw.off('message', on);
          resolve();
        }
      };
      raw.on('message', on);
      raw.send(dg, peer().port, '::1');
      setTimeout(() => raw.send(dg, peer().port, '::1'), 50);
    });
    for (const a of answers) {
      expect(a.type).toBe(MessageType.ACK);
      expect(a.payload).toEqual(IMAGE.subarray(5 * 1024, 6 * 1024));
    }
  });

  it('answers 4.04 for an unknown digest, 4.00 for a malformed one, 4.05 for PUT', async () => {
    expect(codeOf(await exchange(`/fw/${'ab'.repeat(32)}`))).toBe('4.04');
    expect(codeOf(await exchange('/fw/not-a-digest'))).toBe('4.00');
    expect(codeOf(await exchange(`/fw/${id.toUpperCase()}`))).toBe('4.00');
    expect(codeOf(await exchange(`/fw/${id}/extra`))).toBe('4.04');
    expect(codeOf(await exchange(`/fw/${id}`, [], 3))).toBe('4.05');
  });
});

describe('serving without copying', () => {
  it('hands the endpoint one and the same Buffer for 40 concurrent downloads', async () => {
    // The production handler, wrapped only to record what it gives the endpoint.
    const ep = await createCoapEndpoint({ port: 0, host: '::1' });
    const handler = firmwareRequestHandler(server.firmware);
    const seen = new Set<Buffer>();
    let calls = 0;
    ep.route(['fw'], async (req) => {
      const res: OutgoingResponse = await handler(req);
      calls++;
      if (res.payload) seen.add(res.payload);
      return res;
    });
    try {
      const to = { address: '::1', port: ep.address().port };
      const downloads = await Promise.all(
        Array.from({ length: 40 }, () => client.request(to, { method: 'GET', path: `/fw/${sha256(IMAGE)}`, block2Size: 256 })),
      );
      for (const d of downloads) expect(d.payload).toEqual(IMAGE);
      expect(calls).toBeGreaterThanOrEqual(40 * Math.ceil(IMAGE.length / 256));
      expect(seen.size).toBe(1);
      expect([...seen][0]).toBe(server.firmware.peek(sha256(IMAGE)));
    } finally {
      await ep.close();
    }
  });
});

describe('REST API', () => {
  const auth = { authorization: 'Bearer test-token' };

  it('uploads an image (raw, streamed) and an envelope, lists, shows, serves and removes it; every change on the event stream', async () => {
    const img = image(9000, 77);
    const env = envelopeFor(img, { relativeUri: true }, { sequenceNumber: 12, version: '3.0.0' });
    const staged = await fetch(`${api}/api/firmware/images/${sha256(img)}`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: img });
    expect(staged.status).toBe(201);
    expect(await staged.json()).toEqual({ digest: sha256(img), size: 9000 });

    const added = await fetch(`${api}/api/firmware`, { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: env });
    expect(added.status).toBe(201);
    const rec = (await added.json()) as { id: string; version: string; sequenceNumber: number; payload: { uri: string } };
    expect(rec).toMatchObject({ id: sha256(env), version: '3.0.0', sequenceNumber: 12, payload: { uri: `/fw/${sha256(img)}` } });
    const again = await fetch(`${api}/api/firmware`, { method: 'POST', headers: auth, body: env });
    expect(again.status).toBe(200);

    const list = (await (await fetch(`${api}/api/firmware`, { headers: auth })).json()) as { firmware: Array<{ id: string }> };
    expect(list.firmware.map((f) => f.id)).toEqual([id, rec.id]);
    expect(((await (await fetch(`${api}/api/firmware/${rec.id}`, { headers: auth })).json()) as { id: string }).id).toBe(rec.id);
    expect(Buffer.from(await (await fetch(`${api}/api/firmware/${rec.id}/envelope`, { headers: auth })).arrayBuffer())).toEqual(env);
    expect((await client.request(peer(), { method: 'GET', path: `/fw/${sha256(img)}` })).payload).toEqual(img);

    const del = await fetch(`${api}/api/firmware/${rec.id}`, { method: 'DELETE', headers: auth });
    expect(del.status).toBe(200);
    expect((await client.request(peer(), { method: 'GET', path: `/fw/${rec.id}` })).code).toBe('4.04');
    expect((await fetch(`${api}/api/firmware/${rec.id}`, { headers: auth })).status).toBe(404);

    const types = (await server.events.since(0)).filter((e) => isEvent(e, 'firmwareAdded', 'firmwareRemoved'));
    expect(types.map((e) => [e.type, e.data.id])).toEqual([
      ['firmwareAdded', id],
      ['firmwareAdded', rec.id],
      ['firmwareRemoved', rec.id],
    ]);
  });

  it('refuses an envelope signed by an untrusted key with 422 and the SUIT code', async () => {
    const img = image(500, 78);
    const env = envelopeFor(img, { integrated: true }, { signers: [stranger.privateKey] });
    const res = await fetch(`${api}/api/firmware`, { method: 'POST', headers: auth, body: env });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('ERR_FOTA_FIRMWARE_REJECTED');
    expect(body.error.message).toMatch(/^ERR_SUIT_SIGNATURE_INVALID: /);
  });

  it('says which image is missing (422), refuses an upload whose bytes are not its digest (422) and JSON bodies (415)', async () => {
    const img = image(600, 79);
    const missing = await fetch(`${api}/api/firmware`, { method: 'POST', headers: auth, body: envelopeFor(img) });
    expect(missing.status).toBe(422);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('ERR_FOTA_IMAGE_MISSING');
    const wrong = await fetch(`${api}/api/firmware/images/${sha256(img)}`, { method: 'PUT', headers: auth, body: image(600, 80) });
    expect(wrong.status).toBe(422);
    const json = await fetch(`${api}/api/firmware`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"envelope":"AAAA"}' });
    expect(json.status).toBe(415);
  });
});

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLwm2mFotaError, type Lwm2mFotaError } from '../../../src/errors';
import { openFirmwareRepository, type FirmwareRepository, type FirmwareRepositoryOptions } from '../../../src/fota/firmware';
import { openSqliteStore, type SqliteStore } from '../../../src/store';
import type { NewEvent } from '../../../src/store/types';
import { formatUuid, classIdFor, vendorIdFor } from '../../../src/suit';
import { tempDir } from '../../helpers/tmp';
import { envelopeFor, image, oem, policy, sha256, stranger } from './fixtures';

let tmp: ReturnType<typeof tempDir>;
let store: SqliteStore;
let events: NewEvent[];
let repo: FirmwareRepository;

async function open(extra: Partial<FirmwareRepositoryOptions> = {}): Promise<FirmwareRepository> {
  return openFirmwareRepository({
    dataDir: tmp.dir,
    store: store.firmware,
    policy,
    events: { publish: async (e) => void events.push(e) },
    ...extra,
  });
}

async function failure(p: Promise<unknown>): Promise<Lwm2mFotaError> {
  try {
    await p;
  } catch (err) {
    if (isLwm2mFotaError(err)) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

beforeEach(async () => {
  tmp = tempDir('fw-repo-');
  store = openSqliteStore({ file: join(tmp.dir, 'lwm2m-fota.sqlite') });
  events = [];
  repo = await open();
});
afterEach(async () => {
  await store.close();
  tmp.remove();
});

describe('adding firmware', () => {
  it('accepts an envelope with a relative /fw/<digest> URI and its image; the id is the SHA-256 of the envelope', async () => {
    const img = image(5000);
    const env = envelopeFor(img);
    const r = await repo.add(env, img);
    expect(r.id).toBe(sha256(env));
    expect(r.uri).toBe(`/fw/${sha256(env)}`);
    expect(r.size).toBe(env.length);
    expect(r.version).toBe('2.1.0');
    expect(r.sequenceNumber).toBe(7);
    expect(r.description).toBe('test firmware');
    const vendor = vendorIdFor('example.com');
    expect(r.vendorId).toBe(formatUuid(vendor));
    expect(r.classId).toBe(formatUuid(classIdFor(vendor, 'sensor-v2')));
    expect(r.images).toEqual([
      { component: 0, componentId: ['00'], digest: sha256(img), size: 5000, uri: `/fw/${sha256(img)}`, location: 'repository', stored: true },
    ]);
    expect(r.payload).toEqual({ digest: sha256(img), size: 5000, uri: `/fw/${sha256(img)}` });
    expect(r.signers).toHaveLength(1);
    expect(events.map((e) => e.type)).toEqual(['firmwareAdded']);
    expect(events[0]!.data).toMatchObject({ id: r.id, version: '2.1.0', sequenceNumber: 7, size: env.length, uri: r.uri });
  });

  it('stores envelope and image as files named by their SHA-256', async () => {
    const img = image(3000, 2);
    const env = envelopeFor(img);
    await repo.add(env, img);
    const dir = join(tmp.dir, 'firmware');
    expect(readFileSync(join(dir, sha256(env)))).toEqual(env);
    expect(readFileSync(join(dir, sha256(img)))).toEqual(img);
    expect(readdirSync(dir).filter((n) => n !== 'staging').sort()).toEqual([sha256(env), sha256(img)].sort());
  });

  it('refuses an envelope signed by an untrusted key, with the SUIT code, and stores nothing', async () => {
    const img = image(1000);
    const env = envelopeFor(img, { relativeUri: true }, { signers: [stranger.privateKey] });
    const err = await failure(repo.add(env, img));
    expect(err.code).toBe('ERR_FOTA_FIRMWARE_REJECTED');
    expect(err.message).toMatch(/^ERR_SUIT_SIGNATURE_INVALID: /);
    expect(err.context.suitCode).toBe('ERR_SUIT_SIGNATURE_INVALID');
    expect(repo.list()).toEqual([]);
    expect(await store.firmware.list()).toEqual([]);
    expect(readdirSync(join(tmp.dir, 'firmware'))).toEqual(['staging']);
    expect(events).toEqual([]);
  });

  it('refuses an unsigned envelope and bytes that are not an envelope', async () => {
    const img = image(100);
    expect((await failure(repo.add(envelopeFor(img, { relativeUri: true }, { signers: [] }), img))).context.suitCode).toBe('ERR_SUIT_UNSIGNED');
    expect((await failure(repo.add(Buffer.from('not cbor at all'), img))).code).toBe('ERR_FOTA_FIRMWARE_REJECTED');
  });

  it('refuses an image that does not match the manifest (digest, or size)', async () => {
    const img = image(2000);
    const env = envelopeFor(img);
    const wrong = Buffer.from(img);
    wrong[100] = wrong[100]! ^ 1;
    const e1 = await failure(repo.add(env, wrong));
    expect(e1.code).toBe('ERR_FOTA_FIRMWARE_REJECTED');
    expect(e1.context.suitCode).toBe('ERR_SUIT_IMAGE_DIGEST');
    const e2 = await failure(repo.add(env, img.subarray(0, 1999)));
    expect(e2.context.suitCode).toBe('ERR_SUIT_IMAGE_DIGEST');
    expect(e2.message).toMatch(/1999 bytes/);
    expect(repo.list()).toEqual([]);
  });

  it('refuses a /fw/ manifest without its image: ERR_FOTA_IMAGE_MISSING', async () => {
    const img = image(800);
    const err = await failure(repo.add(envelopeFor(img)));
    expect(err.code).toBe('ERR_FOTA_IMAGE_MISSING');
    expect(err.message).toContain(sha256(img));
    // an absolute URI in the /fw/<digest> namespace is ours too
    const abs = envelopeFor(img, { uri: `coap://[2001:db8::1]:5683/fw/${sha256(img)}` });
    expect((await failure(repo.add(abs))).code).toBe('ERR_FOTA_IMAGE_MISSING');
  });

  it('accepts an integrated image without --image and serves the payload alone at /fw/<image digest>', async () => {
    const img = image(1500, 3);
    const env = envelopeFor(img, { integrated: true });
    const r = await repo.add(env);
    expect(r.images[0]).toMatchObject({ uri: '#firmware', location: 'integrated', stored: true, digest: sha256(img) });
    expect(await repo.payloadOf(r.id)).toEqual(img);
    expect(repo.serves(sha256(img))).toBe(true);
    expect(await repo.envelopeOf(r.id)).toEqual(env);
  });

  it('accepts an external absolute URI without an image (nothing to serve but the envelope)', async () => {
    const img = image(700, 4);
    const r = await repo.add(envelopeFor(img, { uri: 'https://firmware.example.com/sensor-v2/2.1.0.bin' }));
    expect(r.images[0]).toMatchObject({ location: 'external', stored: false });
    expect(r.payload).toBeNull();
    expect(repo.serves(sha256(img))).toBe(false);
    expect((await failure(repo.payloadOf(r.id))).code).toBe('ERR_FOTA_IMAGE_MISSING');
  });

  it('stores the image of an external URI when given, for payload-only delivery', async () => {
    const img = image(700, 5);
    const r = await repo.add(envelopeFor(img, { uri: 'coap://elsewhere.example.com/images/fw.bin' }), img);
    expect(r.images[0]).toMatchObject({ location: 'external', stored: true });
    expect(await repo.payloadOf(r.id)).toEqual(img);
  });

  it('refuses a relative URI this server would not serve', async () => {
    const img = image(300);
    const err = await failure(repo.add(envelopeFor(img, { uri: '/images/fw.bin' }), img));
    expect(err.code).toBe('ERR_FOTA_FIRMWARE_REJECTED');
    expect(err.context.reason).toBe('imageUri');
    const other = await failure(repo.add(envelopeFor(img, { uri: `/fw/${sha256(Buffer.from('x'))}` }), img));
    expect(other.context.reason).toBe('imageUri');
  });

  it('takes an image staged before its envelope; a staged image is not served', async () => {
    const img = image(4096, 6);
    const staged = await repo.stageImage(img, sha256(img));
    expect(staged).toEqual({ digest: sha256(img), size: 4096 });
    expect(repo.serves(sha256(img))).toBe(false);
    const r = await repo.add(envelopeFor(img));
    expect(r.images[0]!.stored).toBe(true);
    expect(repo.serves(sha256(img))).toBe(true);
    expect(await repo.open(sha256(img))).toEqual(img);
    // a staged upload whose content is not the announced digest is refused
    const e = await failure(repo.stageImage(image(10), sha256(img)));
    expect(e.context.suitCode).toBe('ERR_SUIT_IMAGE_DIGEST');
  });

  it('refuses everything when no trust is configured', async () => {
    const bare = await open({ policy: undefined });
    expect(bare.trustConfigured).toBe(false);
    const img = image(100);
    expect((await failure(bare.add(envelopeFor(img), img))).code).toBe('ERR_FOTA_TRUST_NOT_CONFIGURED');
  });

  it('applies the whole policy (sequence number)', async () => {
    const strict = await open({ policy: { ...policy, minSequenceNumber: 8 } });
    const img = image(100);
    expect((await failure(strict.add(envelopeFor(img), img))).context.suitCode).toBe('ERR_SUIT_ROLLBACK');
  });

  it('returns the stored record when the same envelope is added again, and shares an image between envelopes', async () => {
    const img = image(1024, 7);
    const a = await repo.add(envelopeFor(img), img);
    expect(await repo.add(envelopeFor(img), img)).toBe(a);
    // another envelope for the same image needs no second upload
    const b = await repo.add(envelopeFor(img, { relativeUri: true }, { sequenceNumber: 8, version: '2.1.1' }));
    expect(b.id).not.toBe(a.id);
    expect(b.images[0]!.stored).toBe(true);
    expect(repo.list().map((r) => r.version)).toEqual(['2.1.0', '2.1.1']);
    expect(events.filter((e) => e.type === 'firmwareAdded')).toHaveLength(2);
  });
});

describe('removing firmware', () => {
  it('deletes the row and the files no other firmware uses', async () => {
    const img = image(1024, 8);
    const a = await repo.add(envelopeFor(img), img);
    const b = await repo.add(envelopeFor(img, { relativeUri: true }, { sequenceNumber: 9 }));
    await repo.remove(a.id);
    const dir = join(tmp.dir, 'firmware');
    expect(existsSync(join(dir, a.id))).toBe(false);
    expect(existsSync(join(dir, sha256(img)))).toBe(true); // b still uses it
    expect(repo.serves(a.id)).toBe(false);
    await repo.remove(b.id);
    expect(existsSync(join(dir, sha256(img)))).toBe(false);
    expect(repo.list()).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['firmwareAdded', 'firmwareAdded', 'firmwareRemoved', 'firmwareRemoved']);
    expect((await failure(repo.remove(a.id))).code).toBe('ERR_FOTA_FIRMWARE_NOT_FOUND');
  });

  it('refuses while an update job uses the firmware', async () => {
    const jobs = new Set<string>();
    const busy = await open({ isInUse: (id) => jobs.has(id) });
    const img = image(64, 9);
    const r = await busy.add(envelopeFor(img), img);
    jobs.add(r.id);
    expect((await failure(busy.remove(r.id))).code).toBe('ERR_FOTA_FIRMWARE_IN_USE');
    expect(busy.get(r.id)).toBeDefined();
    jobs.delete(r.id);
    await busy.remove(r.id);
    expect(busy.get(r.id)).toBeUndefined();
  });
});

describe('after a restart', () => {
  it('lists and serves what was added, from the SQLite file and the files', async () => {
    const img = image(20_000, 10);
    const env = envelopeFor(img);
    const added = await repo.add(env, img);
    await store.close();
    store = openSqliteStore({ file: join(tmp.dir, 'lwm2m-fota.sqlite') });
    const again = await open();
    expect(again.list()).toEqual([added]);
    expect(again.get(added.id)).toEqual(added);
    expect(await again.open(added.id)).toEqual(env);
    expect(await again.payloadOf(added.id)).toEqual(img);
  });

  it('removes files no row references (a crash between file and row) and leftover uploads', async () => {
    const dir = join(tmp.dir, 'firmware');
    const orphan = image(50, 11);
    writeFileSync(join(dir, sha256(orphan)), orphan);
    writeFileSync(join(dir, '.tmp-123-abc'), 'partial');
    writeFileSync(join(dir, 'staging', sha256(orphan)), orphan);
    await open();
    expect(readdirSync(dir)).toEqual(['staging']);
    expect(readdirSync(join(dir, 'staging'))).toEqual([]);
  });

  it('refuses to serve a file the disk corrupted', async () => {
    const img = image(1000, 12);
    const r = await repo.add(envelopeFor(img), img);
    const file = join(tmp.dir, 'firmware', sha256(img));
    const bad = readFileSync(file);
    bad[0] = bad[0]! ^ 0xff;
    writeFileSync(file, bad);
    const fresh = await open();
    expect((await failure(fresh.payloadOf(r.id))).code).toBe('ERR_STORE_READ');
  });
});

describe('serving memory', () => {
  it('hands every caller the same Buffer and reads a file once for concurrent callers', async () => {
    const img = image(64 * 1024, 13);
    const r = await repo.add(envelopeFor(img), img);
    const fresh = await open();
    const all = await Promise.all(Array.from({ length: 50 }, () => fresh.open(r.payload!.digest)));
    for (const b of all) expect(b).toBe(all[0]);
    expect(fresh.peek(r.payload!.digest)).toBe(all[0]);
  });

  it('keeps loaded files within the byte bound, least recently used evicted first', async () => {
    const bounded = await open({ cacheBytes: 10_000 });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const img = image(3000, 20 + i);
      await bounded.add(envelopeFor(img, { integrated: true }));
      ids.push(sha256(img));
    }
    const reopened = await open({ cacheBytes: 10_000 });
    for (const d of ids) await reopened.open(d);
    const stats = reopened.cacheStats();
    expect(stats.maxBytes).toBe(10_000);
    expect(stats.bytes).toBeLessThanOrEqual(10_000);
    expect(stats.entries).toBe(3);
    expect(reopened.peek(ids[0]!)).toBeUndefined(); // the oldest went
    expect(reopened.peek(ids[3]!)).toBeDefined();
    // an evicted file is read again on demand
    expect(await reopened.open(ids[0]!)).toEqual(image(3000, 20));
    expect(reopened.cacheStats().bytes).toBeLessThanOrEqual(10_000);
  });

  it('refuses files larger than the cache bound', async () => {
    const small = await open({ cacheBytes: 1000 });
    const img = image(2000, 30);
    const err = await failure(small.add(envelopeFor(img, { integrated: true })));
    expect(err.code).toBe('ERR_FOTA_FIRMWARE_REJECTED');
    expect(err.context.reason).toBe('tooLarge');
  });
});

it('uses the OEM key fixture (sanity)', () => {
  expect(oem.publicPem).toContain('BEGIN PUBLIC KEY');
});

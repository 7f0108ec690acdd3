/**
 * A firmware id prefix that two firmware share: the REST API answers one clear 4xx JSON
 * error on every route that takes a firmware id, and the CLI prints one stderr line and
 * exits 1 — for `firmware show` and `update --firmware` alike, because the server resolves
 * the prefix for both.
 *
 * Two SHA-256 ids that share six hex digits cannot be made cheaply from real envelopes (a
 * birthday search over thousands of signed envelopes), so the repository here is a stand-in
 * that holds such ids; the REST server, its routes, the error map and the built CLI are the
 * real ones, over real HTTP on loopback.
 */
import { join } from 'node:path';
import { createApiServer, type ApiServer } from '../../src/api/api-server';
import { addFirmwareRoutes } from '../../src/api/firmware-routes';
import { loadOrCreateToken } from '../../src/api/token';
import { registerUpdateRoutes } from '../../src/api/update-routes';
import { EventBus } from '../../src/events';
import type { FirmwareRecord, FirmwareRepository } from '../../src/fota/firmware';
import type { UpdateService } from '../../src/fota/update';
import { RegistrationService } from '../../src/lwm2m/server/registration/registration-service';
import { openSqliteStore, type SqliteStore } from '../../src/store';
import { runCli } from '../helpers/cli';
import { tempDir } from '../helpers/tmp';

const SHARED = 'abcdef12';
const A = SHARED + '0'.repeat(56);
const B = SHARED + 'f'.repeat(56);

function record(id: string): FirmwareRecord {
  return {
    id,
    uri: `/fw/${id}`,
    size: 100,
    version: '1.0.0',
    sequenceNumber: 1,
    vendorId: null,
    classId: null,
    description: null,
    images: [],
    payload: null,
    signers: [],
    addedAt: new Date(0).toISOString(),
  };
}

describe('an ambiguous firmware id prefix', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let svc: RegistrationService;
  let api: ApiServer;
  let base: string;
  let token: string;
  const started: string[] = [];

  beforeAll(async () => {
    tmp = tempDir();
    store = openSqliteStore({ file: join(tmp.dir, 'db.sqlite') });
    const events = new EventBus(store.events);
    svc = await RegistrationService.start({ store: store.registrations, events, sweepIntervalMs: 0 });
    token = loadOrCreateToken(tmp.dir, {});
    const records = new Map([A, B].map((id) => [id, record(id)]));
    // The stand-ins answer only what the routes under test call.
    const repo = {
      list: () => [...records.values()],
      require: (id: string) => records.get(id)!,
    } as unknown as FirmwareRepository;
    const updates = {
      start: async (_endpoint: string, o: { firmwareId: string }) => {
        started.push(o.firmwareId);
        throw new Error('not reached in these tests');
      },
    } as unknown as UpdateService;
    api = await createApiServer({
      host: '127.0.0.1',
      port: 0,
      token,
      registrations: svc,
      events,
      extraRoutes: (router) => {
        registerUpdateRoutes(router, updates, repo);
        addFirmwareRoutes(router, repo);
      },
    });
    base = `http://127.0.0.1:${api.address().port}`;
  });

  afterAll(async () => {
    await api.close();
    svc.close();
    await store.close();
    tmp.remove();
  });

  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: await res.json() };
  };

  const ambiguous = { error: { code: 'ERR_FOTA_FIRMWARE_AMBIGUOUS', message: `2 firmware ids start with ${SHARED}; give more digits` } };

  it('GET /api/firmware/<prefix> answers 400 ERR_FOTA_FIRMWARE_AMBIGUOUS; one digit more resolves it', async () => {
    expect(await call('GET', `/api/firmware/${SHARED}`)).toEqual({ status: 400, body: ambiguous });
    expect(await call('GET', `/api/firmware/${SHARED}0`)).toMatchObject({ status: 200, body: { id: A } });
    expect(await call('GET', `/api/firmware/${SHARED}F`)).toMatchObject({ status: 200, body: { id: B } });
  });

  it('POST /api/devices/:ep/update with it answers the same error and starts nothing', async () => {
    expect(await call('POST', '/api/devices/dev-1/update', { firmware: SHARED })).toEqual({ status: 400, body: ambiguous });
    expect(started).toEqual([]);
  });

  const env = (): NodeJS.ProcessEnv => ({ LWM2M_FOTA_TOKEN: token });

  it.each([
    ['firmware', 'show', SHARED],
    ['update', 'dev-1', '--firmware', SHARED],
  ])('the CLI (%s %s): one stderr line, exit 1', async (...args) => {
    const out = await runCli([...args, '--server', base], env());
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe(`lwm2m-fota: ERR_FOTA_FIRMWARE_AMBIGUOUS: 2 firmware ids start with ${SHARED}; give more digits\n`);
    expect(out.code).toBe(1);
    expect(started).toEqual([]);
  });
});

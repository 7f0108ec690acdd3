/**
 * REST routes of firmware updates:
 *
 *   POST   /api/devices/:ep/update   {firmware, method?, payloadOnly?, confirm?, contactTimeout?} → 201 the new job;
 *                                    `firmware` is an id or a unique prefix of one
 *   GET    /api/devices/:ep/update   the active job, else the last one (with its history);
 *                                    `?all=1` adds `jobs`: the device's earlier jobs
 *   DELETE /api/devices/:ep/update   cancel the active job → the job (cancelling/cancelled)
 *   GET    /api/updates              recent jobs of every device (`?limit=`, `?active=1`)
 *
 * Errors (statuses from the one map, ./error-status.ts): 400 ERR_API_BAD_REQUEST /
 * ERR_FOTA_FIRMWARE_AMBIGUOUS / ERR_FOTA_VERSION_UNKNOWN, 404 ERR_LWM2M_NOT_REGISTERED /
 * ERR_FOTA_FIRMWARE_NOT_FOUND / ERR_FOTA_JOB_NOT_FOUND, 409 ERR_FOTA_JOB_CONFLICT /
 * ERR_FOTA_CANCEL_TOO_LATE, 422 ERR_FOTA_IMAGE_MISSING.
 */
import { Lwm2mFotaError, isLwm2mFotaError } from '../errors';
import type { FirmwareRepository } from '../fota/firmware';
import type { Job, UpdateService } from '../fota/update';
import { isConfirmBy } from '../fota/update/confirm-by';
import { firmwareIdParam } from './firmware-routes';
import { badRequest, readJsonBody, type Router } from './http';
import { jobView, type UpdateJobView } from './views';

function parseLimit(raw: string | null, fallback: number): number {
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 1000) throw badRequest(`limit must be an integer in 1..1000, got "${raw}"`);
  return Number(raw);
}

/**
 * Adds the update routes; register them before any `/api/devices/:endpoint/*rest` catch-all.
 * `isRegistered` lets an endpoint the server does not know at all answer
 * ERR_LWM2M_NOT_REGISTERED, as every other device route does, rather than "no job".
 */
export function registerUpdateRoutes(
  router: Router,
  updates: UpdateService,
  firmware: Pick<FirmwareRepository, 'list'>,
  isRegistered: (endpoint: string) => boolean = () => true,
): void {
  const view = async (job: Job): Promise<UpdateJobView> => jobView(job, await updates.firmwareVersion(job.endpoint));
  const noJob = (endpoint: string): Lwm2mFotaError =>
    isRegistered(endpoint)
      ? new Lwm2mFotaError('ERR_FOTA_JOB_NOT_FOUND', `no update job for ${endpoint}`, { context: { endpoint } })
      : new Lwm2mFotaError('ERR_LWM2M_NOT_REGISTERED', `device ${endpoint} is not registered`, { context: { endpoint } });

  router.add('POST', '/api/devices/:endpoint/update', async ({ req, params }) => {
    const body = await readJsonBody(req, 64 * 1024);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('expected a JSON object {"firmware": "<id>", "method"?: "pull"|"push", "payloadOnly"?: true}');
    const b = body as Record<string, unknown>;
    const firmwareId = firmwareIdParam(firmware, b['firmware'] ?? b['firmwareId'], '"firmware"');
    const method = b['method'];
    if (method !== undefined && method !== null && method !== 'pull' && method !== 'push') throw badRequest('"method" must be "pull" or "push"');
    const payloadOnly = b['payloadOnly'];
    if (payloadOnly !== undefined && typeof payloadOnly !== 'boolean') throw badRequest('"payloadOnly" must be true or false');
    const confirm = b['confirm'];
    if (confirm !== undefined && !isConfirmBy(confirm)) throw badRequest('"confirm" must be "firmwareVersion", "pkgVersion" or "result"');
    const contactTimeout = b['contactTimeout'];
    if (contactTimeout !== undefined && !(typeof contactTimeout === 'number' && Number.isSafeInteger(contactTimeout) && contactTimeout >= 0)) {
      throw badRequest('"contactTimeout" must be a whole number of milliseconds (0 = wait for ever)');
    }
    const job = await updates.start(params.endpoint!, {
      firmwareId,
      ...(method === 'pull' || method === 'push' ? { method } : {}),
      ...(payloadOnly === true ? { payloadOnly: true } : {}),
      ...(confirm === undefined ? {} : { confirm }),
      ...(typeof contactTimeout === 'number' ? { contactTimeout } : {}),
    });
    return { status: 201, body: await view(job) };
  });

  router.add('GET', '/api/devices/:endpoint/update', async ({ params, url }) => {
    const endpoint = params.endpoint!;
    const job = await updates.current(endpoint);
    // A device that expired keeps its jobs: only an endpoint without either is unknown.
    if (job === undefined) throw noJob(endpoint);
    const v = await view(job);
    if (url.searchParams.get('all') !== '1') return v;
    const jobs = await updates.jobsOf(endpoint, parseLimit(url.searchParams.get('limit'), 20));
    return { ...v, jobs: await Promise.all(jobs.map(view)) };
  });

  router.add('DELETE', '/api/devices/:endpoint/update', async ({ params }) => {
    try {
      return await view(await updates.cancel(params.endpoint!));
    } catch (err) {
      if (isLwm2mFotaError(err, 'ERR_FOTA_JOB_NOT_FOUND')) throw noJob(params.endpoint!);
      throw err;
    }
  });

  router.add('GET', '/api/updates', async ({ url }) => {
    const limit = parseLimit(url.searchParams.get('limit'), 100);
    const jobs = url.searchParams.get('active') === '1' ? updates.active().slice(0, limit) : await updates.list(limit);
    return { jobs: await Promise.all(jobs.map(async (j) => ({ ...(await view(j)), history: undefined }))) };
  });
}

import { relativeFirmwareUri } from '../../../src/suit';
import {
  FIRMWARE_ID_PATTERN,
  FIRMWARE_PATH_PREFIX,
  FIRMWARE_ROUTE,
  firmwarePath,
  isFirmwareId,
  isFirmwareIdOrPrefix,
  repositoryDigestOf,
  resolveFirmwareId,
} from '../../../src/fota/firmware';
import { firmwareFileUri } from '../../../src/fota/update';
import { Lwm2mFotaError } from '../../../src/errors';

const A = 'abcdef12' + '0'.repeat(56);
const B = 'abcdef12' + 'f'.repeat(56);
const C = '0123456789'.repeat(6) + '0123';

function failure(fn: () => unknown): Lwm2mFotaError {
  try {
    fn();
  } catch (err) {
    if (err instanceof Lwm2mFotaError) return err;
    throw err;
  }
  throw new Error('did not throw');
}

describe('firmware ids', () => {
  it('are 64 lowercase hex digits; a prefix has at least 6, in either case', () => {
    expect(isFirmwareId(A)).toBe(true);
    expect(isFirmwareId(A.toUpperCase())).toBe(false);
    expect(isFirmwareId(A.slice(1))).toBe(false);
    expect(isFirmwareIdOrPrefix('ABCDEF')).toBe(true);
    expect(isFirmwareIdOrPrefix('abcde')).toBe(false);
    expect(isFirmwareIdOrPrefix(A + '0')).toBe(false);
    expect(isFirmwareIdOrPrefix('abcdeg')).toBe(false);
  });

  it('resolve a whole id, a unique prefix (any case), and refuse an unknown or shared one', () => {
    expect(resolveFirmwareId(A, [A, B, C])).toBe(A);
    expect(resolveFirmwareId('ABCDEF120', [A, B, C])).toBe(A);
    expect(resolveFirmwareId('012345', [A, B, C])).toBe(C);
    const none = failure(() => resolveFirmwareId('999999', [A, B, C]));
    expect([none.code, none.message]).toEqual(['ERR_FOTA_FIRMWARE_NOT_FOUND', 'no firmware id starts with 999999']);
    const shared = failure(() => resolveFirmwareId('abcdef', [A, B, C]));
    expect([shared.code, shared.message]).toEqual(['ERR_FOTA_FIRMWARE_AMBIGUOUS', '2 firmware ids start with abcdef; give more digits']);
  });
});

describe('the /fw/ spelling', () => {
  it('is one: the route, the path, the package URI and the repository namespace agree', () => {
    expect(FIRMWARE_ROUTE).toEqual(['fw']);
    expect(FIRMWARE_PATH_PREFIX).toBe('/fw/');
    expect(firmwarePath(A)).toBe(`/fw/${A}`);
    expect(firmwareFileUri('::1', 5683, A)).toBe(`coap://[::1]:5683${firmwarePath(A)}`);
    expect(repositoryDigestOf(firmwarePath(A))).toBe(A);
  });

  it('matches what the SUIT library writes into manifests with relativeUri (a pure library below fota keeps its own copy)', () => {
    expect(relativeFirmwareUri(Buffer.from(A, 'hex'))).toBe(firmwarePath(A));
    expect(FIRMWARE_ID_PATTERN.source).toBe('^[0-9a-f]{64}$');
  });
});

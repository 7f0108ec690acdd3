/** The public API of lwm2m-fota. Nothing else is exported. */
export { Lwm2mFotaError, isLwm2mFotaError } from './errors';
export type { ErrorCode } from './errors';

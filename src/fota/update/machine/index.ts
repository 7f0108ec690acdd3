/** Transitional: the machine is split by phase in the next commit. */
export * from './types';

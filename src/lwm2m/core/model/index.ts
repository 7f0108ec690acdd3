export * from './types';
export * from './version';
export { parseDdf, parseRange, MAX_DDF_BYTES } from './ddf';
export * from './registry';
export * from './loader';
export * from './path';

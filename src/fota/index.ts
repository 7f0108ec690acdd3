/** Firmware over the air: the repository (what devices fetch) and the update machine with its runner (how a device gets there). */
export * from './firmware';
export * from './update';

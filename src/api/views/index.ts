/**
 * The JSON the REST API answers and the CLI prints with `--json`: devices (and their queued
 * requests and observations), firmware, update jobs, events. Stable: scripts rely on them.
 */
export { deviceRequestView, deviceView, displayAddress, observationView } from './devices';
export type { DeviceRequestView, DeviceView, ObservationView } from './devices';
export { eventView } from './events';
export type { EventView } from './events';
export type { FirmwareImageLocation, FirmwareImageView, FirmwareListView, FirmwareRemovedView, FirmwareView } from './firmware';
export { historyView, jobView } from './jobs';
export type { UpdateHistoryView, UpdateJobView } from './jobs';

import type { Command } from 'commander';
import { isLwm2mFotaError, parseAttributeAssignments } from '../../index';
import { action, usageError } from '../run';
import { callDevice, checkPath, codeText, deviceOptions, deviceUrl, type DeviceCommandOptions } from './device-common';

export function register(program: Command): void {
  deviceOptions(
    program
      .command('attributes')
      .description('write notification attributes (pmin, pmax, gt, lt, st, epmin, epmax); "name=" removes one')
      .argument('<endpoint>', 'the device (its LwM2M endpoint name)')
      .argument('<path>', 'an LwM2M path, e.g. /3/0/9')
      .argument('<attributes...>', 'e.g. pmin=10 pmax=60 gt=80 lt='),
    false,
  ).action(
    action(async (endpoint: string, path: string, words: string[], opts: DeviceCommandOptions) => {
      checkPath(path);
      let attributes;
      try {
        attributes = parseAttributeAssignments(words);
      } catch (err) {
        throw isLwm2mFotaError(err) ? usageError(err.message) : err;
      }
      await callDevice(opts, 'PUT', deviceUrl(endpoint, `${path}/attributes`), attributes, (a) => `${a.path ?? path}  ${codeText(a.code)}\n`);
    }),
  );
}

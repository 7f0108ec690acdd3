import type { Command } from 'commander';
import { register as devices } from './devices';
import { register as keys } from './keys';
import { register as manifest } from './manifest';
import { register as serve } from './serve';
import { register as simulate } from './simulate';

/** Each command file exports `register(program)`; add yours here. */
export const commands: Array<(program: Command) => void> = [serve, devices, keys, manifest, simulate];

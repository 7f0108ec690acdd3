import type { Command } from 'commander';
import { register as devices } from './devices';

/** Each command file exports `register(program)`; add yours here. */
export const commands: Array<(program: Command) => void> = [devices];

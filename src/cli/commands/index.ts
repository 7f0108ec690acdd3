import type { Command } from 'commander';

/** Each command file exports `register(program)`; add yours here. */
export const commands: Array<(program: Command) => void> = [];

import type { Command } from 'commander';
import { register as attributes } from './attributes';
import { register as cancel } from './cancel';
import { register as create } from './create';
import { register as deleteInstance } from './delete';
import { register as devices } from './devices';
import { register as discover } from './discover';
import { register as exec } from './exec';
import { register as firmware } from './firmware';
import { register as keys } from './keys';
import { register as manifest } from './manifest';
import { register as observe } from './observe';
import { register as observeComposite } from './observe-composite';
import { register as read } from './read';
import { register as readComposite } from './read-composite';
import { register as serve } from './serve';
import { register as status } from './status';
import { register as update } from './update';
import { register as write } from './write';
import { register as writeComposite } from './write-composite';
import { register as simulate } from './simulate';

/** Each command file exports `register(program)`; add yours here. */
export const commands: Array<(program: Command) => void> = [serve, devices, keys, manifest, simulate, read, write, exec, create, deleteInstance, discover, attributes, observe, readComposite, writeComposite, observeComposite, firmware, update, status, cancel];

/** Loads DDF XML files from folders: the shipped `objects/` and any user folder. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isLwm2mFotaError } from '../../../errors';
import { parseDdf } from './ddf';
import { createModelRegistry, type ModelRegistry } from './registry';
import type { ObjectModel } from './types';

/**
 * The `objects/` folder at the package root: the nearest folder above this file that holds
 * the package's package.json. That is three levels up from `src/lwm2m/model` (ts-jest) and
 * `dist/lwm2m/model` (the build), four from the benchmarks' `dist-bench/src/lwm2m/model`.
 */
export const DEFAULT_OBJECTS_DIR = findPackageObjects(__dirname);

function findPackageObjects(start: string): string {
  for (let dir = start, i = 0; i < 8; i++, dir = path.dirname(dir)) {
    const objects = path.join(dir, 'objects');
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(objects)) return objects;
  }
  return path.resolve(start, '..', '..', '..', 'objects');
}

export interface ModelProblem {
  /** 'error': the file was skipped. 'warning': loaded, but something deserves attention. */
  readonly severity: 'error' | 'warning';
  /** The file (or folder) concerned. */
  readonly path: string;
  readonly message: string;
  readonly cause?: unknown;
}

export interface LoadModelOptions {
  /** Load the shipped `objects/` folder first (default true). */
  readonly includeDefaults?: boolean;
  /** Further folders (e.g. `--objects`), loaded in order after the defaults; later files override. */
  readonly directories?: readonly string[];
  /** Called with each problem as it is found (a logger); problems are also returned. */
  readonly onProblem?: (problem: ModelProblem) => void;
}

export interface LoadedModel {
  readonly registry: ModelRegistry;
  readonly problems: readonly ModelProblem[];
}

/**
 * Reads every `*.xml` file of the folders, parses it as DDF XML and builds a registry.
 * A malformed or invalid file is reported (with its path) and skipped; nothing throws.
 *
 * @example const { registry, problems } = loadObjectModels({ directories: ['./my-objects'] });
 */
export function loadObjectModels(options: LoadModelOptions = {}): LoadedModel {
  const problems: ModelProblem[] = [];
  const report = (p: ModelProblem): void => {
    problems.push(p);
    options.onProblem?.(p);
  };
  const dirs = [...(options.includeDefaults === false ? [] : [DEFAULT_OBJECTS_DIR]), ...(options.directories ?? [])];
  const objects: ObjectModel[] = [];
  const seen = new Map<string, string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(dir).filter((n) => n.toLowerCase().endsWith('.xml')).sort(byObjectFileName);
    } catch (err) {
      report({ severity: 'error', path: dir, message: `cannot read folder: ${(err as Error).message}`, cause: err });
      continue;
    }
    for (const name of names) {
      const file = path.join(dir, name);
      let parsed: ObjectModel[];
      try {
        parsed = parseDdf(fs.readFileSync(file, 'utf8'), file);
      } catch (err) {
        const message = isLwm2mFotaError(err) ? err.message : `${file}: ${(err as Error).message}`;
        report({ severity: 'error', path: file, message, cause: err });
        continue;
      }
      for (const o of parsed) {
        const key = `${o.id}@${o.version}`;
        const earlier = seen.get(key);
        if (earlier !== undefined) {
          report({
            severity: 'warning',
            path: file,
            message: `${file}: object ${o.id} version ${o.version} replaces the definition from ${earlier}`,
          });
        }
        seen.set(key, file);
        objects.push(o);
      }
    }
  }
  return { registry: createModelRegistry(objects), problems };
}

/** "5.xml" < "5-1_1.xml" < "10.xml": by object id, then name. */
function byObjectFileName(a: string, b: string): number {
  const na = Number.parseInt(a, 10);
  const nb = Number.parseInt(b, 10);
  if (Number.isFinite(na) && Number.isFinite(nb) && na !== nb) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

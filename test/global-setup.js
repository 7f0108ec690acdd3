/**
 * Builds dist/ once, before any test worker starts, when it is missing or older than a
 * source file: the CLI and integration tests run the built `lwm2m-fota` in child
 * processes, and rebuilding it while they run would let a child load half-written files.
 */
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function build(root, project, output, sources) {
  const newestSource = Math.max(...sources.map((d) => newest(join(root, d))));
  if (existsSync(output) && statSync(output).mtimeMs >= newestSource) return;
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, project)], {
    cwd: root,
    encoding: 'utf8',
  });
  if (!existsSync(output)) throw new Error(`tsc -p ${project} failed:\n${r.stdout}${r.stderr}`);
}

module.exports = async () => {
  const root = join(__dirname, '..');
  build(root, 'tsconfig.build.json', join(root, 'dist', 'cli', 'main.js'), ['src']);
  // The examples run compiled, from the benchmarks' build.
  build(root, 'tsconfig.bench.json', join(root, 'dist-bench', 'examples', 'update-one-device.js'), ['src', 'examples']);
};

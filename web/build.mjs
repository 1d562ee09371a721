// Bundles the web front end into web/dist (docs/web.md): the console (Preact, uPlot), the
// storefront widget (one script, its proof-of-work worker inlined), and the static pages.
// `npm run build` runs it after generating the API's types and `tsc --noEmit`.
//
//   node build.mjs            # minified, as deployed
//   node build.mjs --dev      # with source maps
//
// Writes dist/sizes.json: each entry's bytes and gzipped bytes (the budgets of docs/web.md).
import { build } from 'esbuild';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const dev = process.argv.includes('--dev');
const common = {
  bundle: true,
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  legalComments: 'none',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': dev ? '"development"' : '"production"' },
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

// The worker first: the widget carries its code as a string and starts it from a Blob URL,
// so that a storefront embeds one script and the worker needs no URL of its own.
const worker = await build({
  ...common,
  sourcemap: false,
  entryPoints: [join(here, 'src/widget/pow-worker.ts')],
  format: 'iife',
  write: false,
});
const workerSource = worker.outputFiles[0].text;

await build({
  ...common,
  entryPoints: [join(here, 'src/widget/widget.ts')],
  outfile: join(dist, 'widget.js'),
  format: 'iife',
  define: { ...common.define, __POW_WORKER_SOURCE__: JSON.stringify(workerSource) },
});

await build({
  ...common,
  entryPoints: [join(here, 'src/console/main.tsx')],
  outfile: join(dist, 'console.js'),
  format: 'esm',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  loader: { '.css': 'css' },
});

await build({
  ...common,
  entryPoints: [join(here, 'src/verify/verify.ts')],
  outfile: join(dist, 'verify-draw.js'),
  format: 'esm',
});

cpSync(join(here, 'public'), dist, { recursive: true });

const sizes = {};
for (const file of ['widget.js', 'console.js', 'console.css']) {
  const bytes = readFileSync(join(dist, file));
  sizes[file] = { bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}
writeFileSync(join(dist, 'sizes.json'), JSON.stringify(sizes, null, 2) + '\n');
for (const [file, s] of Object.entries(sizes)) {
  console.log(`${file.padEnd(12)} ${(s.bytes / 1024).toFixed(1).padStart(7)} KiB, ${(s.gzip / 1024).toFixed(1).padStart(6)} KiB gzipped`);
}

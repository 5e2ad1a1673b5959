/**
 * Builds the dashboard page at build time: esbuild bundles web/main.ts (with
 * uPlot and zod) and web/style.css, and both are inlined into one HTML file,
 * so an agent serves the whole dashboard from one route and it works with no
 * internet. The result is committed as page/index.html; a unit test rebuilds
 * it and fails when the committed page is stale.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const WEB = fileURLToPath(new URL('../web/', import.meta.url));

/**
 * zod's namespace re-exports its error messages in some fifty languages
 * (`z.locales`, 260 KiB minified); the page uses the English ones zod
 * configures by default, so the bundle's `locales` holds only those.
 */
const englishOnlyZodLocales: Plugin = {
  name: 'zod-english-locales',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]/.test(args.importer)
        ? { path: join(dirname(args.importer), '../locales/en.js'), namespace: 'zod-locales' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

/**
 * The protocol package also holds Node-only helpers (command signing uses
 * node:crypto). The page uses none of them, so a node: import resolves to an
 * empty CommonJS module: the bundle builds, and tree-shaking drops the unused
 * code that would have called it.
 */
const noNodeBuiltins: Plugin = {
  name: 'no-node-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'node-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, () => ({
      contents: 'module.exports = {};',
      loader: 'js',
    }));
  },
};

async function bundle(entry: string): Promise<string> {
  const out = await build({
    entryPoints: [`${WEB}${entry}`],
    bundle: true,
    write: false,
    minify: true,
    format: 'iife',
    target: ['chrome110', 'firefox115', 'safari16'],
    platform: 'browser',
    conditions: ['@coxswain/source'],
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [englishOnlyZodLocales, noNodeBuiltins],
  });
  const file = out.outputFiles[0];
  if (!file) throw new Error(`esbuild wrote nothing for ${entry}`);
  return file.text;
}

/** The page's HTML with its script and style inlined. */
export async function buildPage(): Promise<string> {
  const [script, style] = await Promise.all([bundle('main.ts'), bundle('style.css')]);
  const template = readFileSync(`${WEB}index.html`, 'utf8');
  // `</script` inside the bundle would end the element early.
  const safeScript = script.replace(/<\/script/gi, '<\\/script');
  return template
    .replace('/*STYLE*/', () => style.trim())
    .replace('/*SCRIPT*/', () => safeScript.trim());
}

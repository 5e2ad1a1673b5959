#!/usr/bin/env node
// The layout rules of the structure issue (#8), checked rather than remembered: one public
// index.ts per package and no `export *`; workspace packages reached only by name; benchmarks
// never import tests; the agent stays a daemon (under 6,000 lines); and no source file of
// agent, control, host or client over 600 lines or function over 150.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SIZED = ['agent', 'control', 'host', 'client'];
const AGENT_MAX_LINES = 6000;
const FILE_MAX_LINES = 600;
const FUNCTION_MAX_LINES = 150;

const problems = [];

function tsFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const lineCount = (text) => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
const rel = (p) => relative(ROOT, p);

function functionsOver(file, text, max) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found = [];
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (end - start + 1 > max) {
        const name = node.name ? node.name.getText(source) : '(anonymous)';
        found.push(`${rel(file)}:${start + 1} ${name} is ${end - start + 1} lines`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const packagesDir = join(ROOT, 'packages');
const packageDirs = readdirSync(packagesDir)
  .map((name) => join(packagesDir, name))
  .filter((dir) => statSync(join(dir, 'package.json'), { throwIfNoEntry: false }));

for (const dir of packageDirs) {
  const name = dir.split(sep).pop();
  const src = join(dir, 'src');
  if (!statSync(join(src, 'index.ts'), { throwIfNoEntry: false }))
    problems.push(`packages/${name} has no src/index.ts`);
  let total = 0;
  for (const file of tsFiles(src)) {
    const text = readFileSync(file, 'utf8');
    const lines = lineCount(text);
    total += lines;
    if (/^\s*export \*/m.test(text)) problems.push(`${rel(file)} uses export *`);
    for (const m of text.matchAll(/from '(\.\.\/[^']+)'/g)) {
      const target = resolve(dirname(file), m[1]);
      if (!target.startsWith(src + sep))
        problems.push(`${rel(file)} imports ${m[1]} outside its package`);
    }
    if (SIZED.includes(name)) {
      if (lines > FILE_MAX_LINES)
        problems.push(`${rel(file)} is ${lines} lines (max ${FILE_MAX_LINES})`);
      problems.push(...functionsOver(file, text, FUNCTION_MAX_LINES));
    }
  }
  if (name === 'agent' && total >= AGENT_MAX_LINES)
    problems.push(`packages/agent/src is ${total} lines (must stay under ${AGENT_MAX_LINES})`);
}

// Outside the packages: tests, benchmarks, the chaos module and the lab reach a package by its
// name, never by a path into it; and benchmarks never import tests.
const OUTSIDE = ['test', 'bench', 'chaos', join('deploy', 'lab')];
for (const dir of OUTSIDE) {
  for (const file of tsFiles(join(ROOT, dir))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/from '(\.[^']+)'/g)) {
      const target = resolve(dirname(file), m[1]);
      if (target.startsWith(packagesDir + sep))
        problems.push(`${rel(file)} imports ${m[1]}: use the package's name`);
      if (dir === 'bench' && target.startsWith(join(ROOT, 'test') + sep))
        problems.push(`${rel(file)} imports ${m[1]} from test/`);
    }
  }
}

if (problems.length > 0) {
  console.error(`layout: ${problems.length} problem(s)`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log('layout: ok');

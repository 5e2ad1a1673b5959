/**
 * Reads an experiment file (YAML or JSON; JSON is YAML) and validates it. A
 * syntax error or a schema issue becomes an ExperimentFileError naming the
 * file, the line and column of the offending node, and the field's path.
 */
import { readFileSync } from 'node:fs';
import {
  type ChaosExperiment,
  ChaosExperiment as ExperimentSchema,
  formatPath,
} from '@coxswain/protocol';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { ExperimentFileError, type ExperimentProblem } from './errors.js';

export interface LoadedExperiment {
  readonly file: string;
  readonly experiment: ChaosExperiment;
}

export function parseExperiment(file: string, text: string): LoadedExperiment {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ExperimentFileError(
      file,
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return {
          line: pos.line,
          column: pos.col,
          field: '(file)',
          message: e.message.split('\n')[0]!,
        };
      }),
    );
  }
  const parsed = ExperimentSchema.safeParse(doc.toJS());
  if (parsed.success) return { file, experiment: parsed.data };
  const problems: ExperimentProblem[] = parsed.error.issues.map((issue) => {
    const path = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
    // The deepest node that exists: a missing field points at its parent object.
    let at: unknown = doc.contents;
    for (let depth = path.length; depth >= 0; depth--) {
      const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
      if (isNode(node)) {
        at = node;
        break;
      }
    }
    const offset = isNode(at) && at.range ? at.range[0] : 0;
    const pos = lines.linePos(offset);
    return {
      line: pos.line,
      column: pos.col,
      field: formatPath(issue.path),
      message: issue.message,
    };
  });
  throw new ExperimentFileError(file, problems);
}

export function loadExperiment(file: string): LoadedExperiment {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ExperimentFileError(file, [
      { line: 0, column: 0, field: '(file)', message: (cause as Error).message },
    ]);
  }
  return parseExperiment(file, text);
}

/** JUnit XML for CI: a suite per experiment, a case per repetition (and one for the hypothesis). */
import type { ChaosJournal } from '@coxswain/protocol';

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
  );

export function renderJunit(journals: readonly ChaosJournal[]): string {
  const suites = journals.map((j) => {
    const cases: string[] = [];
    if (j.coxswain.refused.length > 0) {
      // Refused before anything ran: an error of the run, not a failed (nor a passed) hypothesis.
      const message = j.coxswain.refused.join('\n');
      return `<testsuite name="${esc(j.experiment.title)}" tests="1" failures="0" errors="1" time="${j.duration.toFixed(3)}" timestamp="${j.start}"><testcase classname="${esc(j.experiment.title)}" name="preflight" time="0"><error message="${esc(j.coxswain.refused[0]!)}">${esc(message)}</error></testcase></testsuite>`;
    }
    const before = j.steady_states.before;
    cases.push(
      `<testcase classname="${esc(j.experiment.title)}" name="steady state before" time="0">${before?.steady_state_met ? '' : `<failure message="steady state not met before the method">${esc(JSON.stringify(before?.probes.filter((p) => !p.tolerance_met).map((p) => `${p.name}: ${p.detail}`) ?? []))}</failure>`}</testcase>`,
    );
    for (const r of j.coxswain.repetitions) {
      const body =
        r.verdict === 'passed'
          ? ''
          : r.verdict === 'aborted'
            ? `<error message="${esc(r.reason)}"/>`
            : `<failure message="${esc(r.reason)}">${esc(r.phases.map((p) => `${p.phase}=${p.ms ?? '—'}ms sla=${p.slaMs ?? '—'}ms ${p.met ? 'ok' : 'BROKEN'}`).join('\n'))}</failure>`;
      const recover = r.phases.find((p) => p.phase === 'recover')?.ms ?? 0;
      cases.push(
        `<testcase classname="${esc(j.experiment.title)}" name="repetition ${r.index}" time="${(recover / 1000).toFixed(3)}">${body}</testcase>`,
      );
    }
    const failures = cases.filter((c) => c.includes('<failure')).length;
    const errors = cases.filter((c) => c.includes('<error')).length;
    return `<testsuite name="${esc(j.experiment.title)}" tests="${cases.length}" failures="${failures}" errors="${errors}" time="${j.duration.toFixed(3)}" timestamp="${j.start}">${cases.join('')}</testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="coxswain chaos">${suites.join('')}</testsuites>\n`;
}

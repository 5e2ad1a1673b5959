#!/usr/bin/env bash
# The README's second command: set up, then lint/format check, unit and
# integration tests (against real nats-server and dockerd processes the tests
# start and stop themselves), then the test campaigns packages register.
# Runs every step even after a failure; exits non-zero if any failed. The last
# line is the verdict: `N passed, N failed`.
# Needs root: the integration tests start dockerd and network namespaces.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "test: run as root (bash scripts/test.sh in a root shell): the integration tests start dockerd and network namespaces" >&2
  exit 1
fi

if ! bash scripts/setup.sh; then
  # Nothing else can run without dependencies and a build.
  echo
  echo "failed: setup"
  echo "0 passed, 1 failed"
  exit 1
fi

WORK="$(mktemp -d -t coxswain-test.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
failures=()

# A check is one pass or one failure in the total (vitest counts each test instead).
check() {
  local name="$1"
  shift
  echo
  echo "== $name: $*"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

# --- Lint and format -----------------------------------------------------------
check "biome" pnpm exec biome ci .
# Sources, tests and benchmarks type-check (tests and bench are noEmit projects in the root tsconfig).
check "typecheck" pnpm exec tsc --build
check "import cycles" pnpm run check:cycles
check "layout" pnpm run check:layout

# --- Unit and integration tests ------------------------------------------------------
echo
echo "== vitest: unit and integration"
vitest_status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$WORK/vitest.json" ||
  vitest_status=$?
if [ -s "$WORK/vitest.json" ]; then
  read -r v_passed v_failed v_failed_files < <(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    // A file that fails to load has no failed tests but is a failure all the same.
    const badFiles = (r.testResults ?? []).filter((f) => f.status === "failed" && (f.assertionResults ?? []).every((a) => a.status !== "failed")).length;
    console.log(r.numPassedTests, r.numFailedTests, badFiles);
  ' "$WORK/vitest.json")
  passed=$((passed + v_passed))
  failed=$((failed + v_failed + v_failed_files))
  if [ "$v_failed" -gt 0 ] || [ "$v_failed_files" -gt 0 ]; then failures+=("vitest"); fi
  if [ "$vitest_status" -ne 0 ] && [ "$v_failed" -eq 0 ] && [ "$v_failed_files" -eq 0 ]; then
    # Exited non-zero with every test green: an unhandled error or a crash.
    failed=$((failed + 1))
    failures+=("vitest (exit $vitest_status, unhandled errors)")
  fi
else
  failed=$((failed + 1))
  failures+=("vitest (no report; exit $vitest_status)")
fi

# --- Test campaigns ------------------------------------------------------------------
# >>> Packages register long-running test campaigns here, or as a "test:campaign"
# >>> script in their package.json (run below automatically, one check each).
# The Raft simulator's 2,000-seed run is a vitest test (packages/raft-consensus-ts/test/sim-seeds.test.ts);
# longer campaigns: pnpm --filter raft-consensus-ts sim --seeds 100000.
while IFS= read -r pkg; do
  check "campaign $pkg" pnpm --filter "$pkg" run test:campaign
done < <(pnpm -r --json ls --depth -1 2>/dev/null | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    for (const p of JSON.parse(s || "[]")) {
      try {
        const pj = require(p.path + "/package.json");
        if (pj.scripts?.["test:campaign"]) console.log(pj.name);
      } catch {}
    }
  });')
# <<< end of campaigns

echo
if [ "${#failures[@]}" -gt 0 ]; then echo "failed: ${failures[*]}"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

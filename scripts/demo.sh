#!/usr/bin/env bash
# The README's first command: sets the machine up, then runs the local lab
# (simulated hosts, each with its own network namespace, dockerd and agent,
# joined by NATS) in its default scenario, the demo: the sample chain behind
# nginx under a replayed real trace, scaled by forecast, a leader-host kill
# healed within its SLA, and a report (about 5 minutes; Ctrl-C ends it early).
# Needs root (namespaces, dockerd). Options go to `coxswain lab`, e.g.
#   bash scripts/demo.sh --load 90s --report /tmp/demo.txt
#   bash scripts/demo.sh --scenario full --duration 60s   # the scripted busybox scenario
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec node packages/cli/dist/bin.js lab "$@"

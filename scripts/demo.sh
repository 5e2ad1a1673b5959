#!/usr/bin/env bash
# The README's first command: sets the machine up, then runs the local lab
# (simulated hosts, each with its own network namespace, dockerd and agent,
# joined by NATS) and shows it live until Ctrl-C or --duration.
# Needs root (namespaces, dockerd). Options go to `coxswain lab`, e.g.
#   bash scripts/demo.sh --hosts 3 --duration 60s
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec node packages/cli/dist/bin.js lab "$@"

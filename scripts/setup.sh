#!/usr/bin/env bash
# Makes this checkout ready to run: system packages, pnpm, dependencies, build.
# Idempotent and quiet: prints only what it changes, and a command's full
# output when it fails.
#
#   bash scripts/setup.sh            # everything the demo and the tests need
#   bash scripts/setup.sh --etcd     # also etcd (the Raft peer the benchmarks compare with)
#   COXSWAIN_SETUP_SKIP_APT=1 ...    # never touch system packages
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

WITH_ETCD=0
for arg in "$@"; do
  case "$arg" in
    --etcd) WITH_ETCD=1 ;;
    -h | --help)
      sed -n '2,9p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *)
      echo "setup: unknown option $arg" >&2
      exit 2
      ;;
  esac
done

LOG="$(mktemp -t coxswain-setup.XXXXXX)"
trap 'rm -f "$LOG"' EXIT

# Runs a command with its output captured; on failure shows the output and stops.
quietly() {
  local what="$1"
  shift
  if ! "$@" >"$LOG" 2>&1; then
    echo "setup: $what failed: $*" >&2
    tail -n 60 "$LOG" >&2
    exit 1
  fi
}

say() { echo "setup: $*"; }

# --- Node ------------------------------------------------------------------
if ! command -v node >/dev/null 2>&1; then
  echo "setup: Node.js >= 20.6 is required and not installed (https://nodejs.org, or your distribution's nodejs 20+)" >&2
  exit 1
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=6)?0:1)'; then
  echo "setup: Node.js >= 20.6 is required; found $(node --version)" >&2
  exit 1
fi

# --- System packages (Debian/Ubuntu) ----------------------------------------
# The tests and the lab start real nats-server and dockerd processes and
# import a busybox image; the lab also needs iproute2 and util-linux (nsenter).
packages=(docker.io nats-server iptables busybox-static iproute2 util-linux)
if [ "$WITH_ETCD" = 1 ]; then packages+=(etcd-server etcd-client); fi
packages+=(chromium prometheus) # the dashboard browser test (playwright-core) and promtool
packages+=(nginx)                # the demo and the endpoints test: a real nginx kept current by the endpoints watcher
packages+=(openssl systemd)      # the deploy tests: certificates per run, systemd-analyze verify of the unit

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
else
  # Not Debian: check for the programs themselves.
  for tool in dockerd nats-server iptables busybox ip nsenter nginx; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "${COXSWAIN_SETUP_SKIP_APT:-0}" = 1 ]; then
    say "not installing ${missing[*]} (COXSWAIN_SETUP_SKIP_APT=1)"
  elif [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${missing[*]}; run as root (bash scripts/setup.sh in a root shell) or install them yourself" >&2
    exit 1
  elif ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing ${missing[*]} and there is no apt-get here; install them with your package manager" >&2
    exit 1
  else
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the packages from starting their services (the system's dockerd and
    # containerd): the lab and the tests run private engines, and a running
    # system containerd would be shared by all of them. Debian's policy-rc.d
    # hook, only while we install and only if none exists.
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$policy" ]; then
      created_policy=1
      printf '#!/bin/sh\nexit 101\n' >"$policy"
      chmod +x "$policy"
      trap 'rm -f "$LOG" "$policy"' EXIT
    fi
    quietly "apt-get update" apt-get update -qq
    quietly "apt-get install" apt-get install -y -qq --no-install-recommends "${missing[@]}"
    if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
  fi
fi

# --- pnpm 10 ------------------------------------------------------------------
PNPM_VERSION=10.34.8
pnpm_major() { pnpm --version 2>/dev/null | cut -d. -f1; }
if [ "$(pnpm_major)" != 10 ]; then
  say "installing pnpm $PNPM_VERSION"
  if ! npm install -g --silent "pnpm@$PNPM_VERSION" >"$LOG" 2>&1; then
    # No global npm prefix we may write to: corepack (both variables are needed on Node 20).
    export COREPACK_INTEGRITY_KEYS=0 COREPACK_ENABLE_DOWNLOAD_PROMPT=0
    quietly "corepack enable" corepack enable pnpm
    quietly "corepack prepare" corepack prepare "pnpm@$PNPM_VERSION" --activate
  fi
  hash -r
  if [ "$(pnpm_major)" != 10 ]; then
    echo "setup: pnpm 10 is still not on PATH (found: $(pnpm --version 2>/dev/null || echo none))" >&2
    exit 1
  fi
fi

# --- Dependencies and build ------------------------------------------------------
quietly "pnpm install" pnpm install --frozen-lockfile --prefer-offline
quietly "pnpm build" pnpm build

# --- The `coxswain` command on PATH (as the README's examples write it) ------------
# A symlink to this checkout's build, only where we may write and nothing else owns the name.
BIN_DIR=/usr/local/bin
CLI="$PWD/packages/cli/dist/bin.js"
if [ -w "$BIN_DIR" ] && [ -f "$CLI" ]; then
  current="$(readlink "$BIN_DIR/coxswain" 2>/dev/null || true)"
  if [ ! -e "$BIN_DIR/coxswain" ] || [ -n "$current" ] && [ "$current" != "$CLI" ]; then
    chmod +x "$CLI"
    ln -sfn "$CLI" "$BIN_DIR/coxswain"
    say "linked $BIN_DIR/coxswain -> $CLI"
  fi
fi

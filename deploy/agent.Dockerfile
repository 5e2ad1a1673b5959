# The coxswain agent's image, built from this repository (there is no published image yet).
# Build from the repository root:
#
#   docker build -f deploy/agent.Dockerfile -t coxswain/agent:dev .
#
# deploy/compose/compose.yaml builds it the same way (`docker compose build`). The image runs
# `coxswain agent --config /etc/coxswain/agent.yaml`; mount the config there, the Docker socket at
# /var/run/docker.sock and a volume at /var/lib/coxswain (the fencing tokens and the Raft log
# must survive a restart of the container).

FROM node:20-slim AS build
# corepack fetches the pnpm that package.json's packageManager names; on Node 20 it needs both
# variables to run unattended.
ENV COREPACK_ENABLE_DOWNLOAD_PROMPT=0 COREPACK_INTEGRITY_KEYS=0
RUN corepack enable
WORKDIR /src
COPY . .
RUN pnpm install --frozen-lockfile
# tsc --build in packages/cli follows its project references, so this builds every package the
# CLI uses (agent, host, control, raft, protocol, dashboard, ...).
RUN pnpm --filter @coxswain/cli run build
# The CLI with its production dependencies only, workspace packages copied in (no symlinks
# into /src): what the runtime stage needs and nothing else.
RUN pnpm --filter @coxswain/cli deploy --legacy --prod /out

FROM node:20-slim
COPY --from=build /out /opt/coxswain
RUN ln -s /opt/coxswain/dist/bin.js /usr/local/bin/coxswain && mkdir -p /etc/coxswain /var/lib/coxswain
# Root in the container: the mounted Docker socket belongs to root and the host's docker group,
# whose gid differs between hosts. (Whoever can use that socket is root on the host anyway.)
VOLUME /var/lib/coxswain
EXPOSE 7070
ENTRYPOINT ["coxswain"]
CMD ["agent", "--config", "/etc/coxswain/agent.yaml"]

/** Warm standbys through a Docker engine: pausing freezes a container's cgroup, keeping its memory. */
import type Dockerode from 'dockerode';
import type { StandbyOptions } from './supervisor.js';

/** Keeps `count` standbys of its own per service; 0 keeps only the pool a leader asks for. */
export function engineStandby(docker: Dockerode, count = 0): StandbyOptions {
  return {
    count,
    pause: async (id) => {
      await docker.getContainer(id).pause();
    },
    unpause: async (id) => {
      await docker.getContainer(id).unpause();
    },
  };
}

// Fixture for test/kit.test.ts: owns an engine with a running container, prints
// `<engine dir> <container pid>`, and waits to be SIGKILLed without cleaning up.
import { BUSYBOX_IMAGE, Dockerd, ensureBusyboxImage } from '@coxswain/lab';

const engine = await Dockerd.start();
await ensureBusyboxImage(engine.docker);
const container = await engine.docker.createContainer({
  Image: BUSYBOX_IMAGE,
  Cmd: ['sleep', '100000'],
  HostConfig: { NetworkMode: 'none' },
});
await container.start();
const { State } = await container.inspect();
process.stdout.write(`${engine.dir} ${State.Pid}\n`);
setInterval(() => {}, 60_000);

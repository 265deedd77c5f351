import { Global, Module } from '@nestjs/common';
import { StaleWorkRegistry } from './stale-work.registry';
import { WorkerHeartbeat } from './worker-heartbeat.service';

/** Global so that any capability of the worker can register its stale-work recoverer. */
@Global()
@Module({
  providers: [StaleWorkRegistry, WorkerHeartbeat],
  exports: [StaleWorkRegistry, WorkerHeartbeat],
})
export class HeartbeatModule {}

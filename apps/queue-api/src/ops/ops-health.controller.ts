import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { OpsKeyGuard } from '@realapp/platform';
import { OpsMetricsResponse, WorkerHealthResponse } from './ops.dto';
import { OpsMetrics, OpsReadService, WorkerHealth } from './ops-read.service';

/** SPEC §9, §13: is the worker alive, and the numbers on-call looks at first. */
@ApiTags('ops')
@ApiSecurity('ops-key')
@UseGuards(OpsKeyGuard)
@Controller('v1/ops')
export class OpsHealthController {
  constructor(private readonly read: OpsReadService) {}

  @Get('worker-health')
  @ApiOperation({
    summary: 'Worker heartbeats; healthy while one is under 60 s old (workers silent over 24 h are left out)',
  })
  @ApiOkResponse({ type: WorkerHealthResponse })
  workerHealth(): Promise<WorkerHealth> {
    return this.read.workerHealth();
  }

  @Get('metrics')
  @ApiOperation({
    summary:
      'Queue depth by order status, failures of the last hour, dead letters, heartbeat age, wallet totals',
  })
  @ApiOkResponse({ type: OpsMetricsResponse })
  metrics(): Promise<OpsMetrics> {
    return this.read.metrics();
  }
}

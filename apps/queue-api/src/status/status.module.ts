import { Module } from '@nestjs/common';
import { OpsModule } from '../ops/ops.module';
import { StatusController } from './status.controller';
import { StatusService } from './status.service';

/** `GET /status`: the public, self-refreshing status page (issue 6). */
@Module({
  imports: [OpsModule],
  controllers: [StatusController],
  providers: [StatusService],
})
export class StatusModule {}

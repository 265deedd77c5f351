import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { WEBHOOK_PROVIDERS, WebhookProvider } from '@realapp/contracts';
import { PageQueryDto } from '@realapp/platform';
import { WEBHOOK_EVENT_STATUSES, WebhookEventStatus } from '@realapp/webhooks';

export class WebhookEventsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: WEBHOOK_EVENT_STATUSES })
  @IsOptional()
  @IsIn(WEBHOOK_EVENT_STATUSES)
  status?: WebhookEventStatus;

  @ApiPropertyOptional({ enum: WEBHOOK_PROVIDERS })
  @IsOptional()
  @IsIn(WEBHOOK_PROVIDERS)
  provider?: WebhookProvider;
}

import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional } from 'class-validator';
import { WEBHOOK_PROVIDERS, WebhookProvider } from '@realapp/contracts';
import { PageQueryDto } from '@realapp/platform';
import { WEBHOOK_EVENT_STATUSES, WebhookEventStatus } from '@realapp/webhooks';

/** `?status=&provider=` (SPEC §7 taken literally) filters on nothing: an empty value is no filter. */
const emptyAsAbsent = Transform(({ value }: { value: unknown }) => (value === '' ? undefined : value));

export class WebhookEventsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: WEBHOOK_EVENT_STATUSES })
  @emptyAsAbsent
  @IsOptional()
  @IsIn(WEBHOOK_EVENT_STATUSES)
  status?: WebhookEventStatus;

  @ApiPropertyOptional({ enum: WEBHOOK_PROVIDERS })
  @emptyAsAbsent
  @IsOptional()
  @IsIn(WEBHOOK_PROVIDERS)
  provider?: WebhookProvider;
}

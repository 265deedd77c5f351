import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { AD_OBJECTIVES, AdObjective } from '@realapp/meta-ads';
import {
  ORDER_STATUSES,
  OrderHistoryItem,
  OrderStatus,
  OrderView,
  WAITING_REASONS,
  WaitingReason,
} from '@realapp/orders';
import { CreativeDto, TargetingDto } from './create-order.dto';

export class OrderHistoryItemDto implements OrderHistoryItem {
  @ApiProperty({ enum: ORDER_STATUSES, nullable: true, description: 'null for the creation' })
  from: OrderStatus | null;

  @ApiProperty({ enum: ORDER_STATUSES })
  to: OrderStatus;

  @ApiProperty({ format: 'date-time' })
  at: string;

  @ApiProperty({ example: 'customer_pause' })
  reason: string;
}

/** The order view of SPEC §13. */
export class OrderViewDto implements OrderView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  name: string;

  @ApiProperty({ enum: AD_OBJECTIVES })
  objective: AdObjective;

  @ApiProperty({ enum: ORDER_STATUSES })
  status: OrderStatus;

  @ApiProperty({ enum: WAITING_REASONS, nullable: true })
  waitingReason: WaitingReason | null;

  @ApiProperty()
  budgetCents: number;

  @ApiProperty({ description: 'Spend captured from the hold so far; never decreases' })
  spentCents: number;

  @ApiProperty({ description: 'Budget still reserved in the wallet for this order' })
  heldCents: number;

  @ApiProperty({ nullable: true, type: String })
  campaignId: string | null;

  @ApiProperty({ type: TargetingDto })
  targeting: TargetingDto;

  @ApiProperty({ type: CreativeDto })
  creative: CreativeDto;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  startsAt: string | null;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  endsAt: string | null;

  @ApiProperty({ nullable: true, type: String })
  failureReason: string | null;

  @ApiProperty({ type: [OrderHistoryItemDto] })
  history: OrderHistoryItemDto[];

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt: string;
}

export class OrderPageDto {
  @ApiProperty({ type: [OrderViewDto] })
  items: OrderViewDto[];

  @ApiPropertyOptional({ nullable: true, type: String })
  nextCursor: string | null;
}

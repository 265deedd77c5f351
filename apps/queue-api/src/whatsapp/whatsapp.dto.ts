import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { Allow, IsInt, IsOptional, IsString, IsUUID, Length, Matches, Min } from 'class-validator';
import { CONNECTION_STATUSES, FLOW_DOMAIN_PATTERN } from '@realapp/whatsapp';

const GRAPH_ID = /^[0-9]{1,32}$/;
const GRAPH_ID_MESSAGE = 'must be a Meta id (1 to 32 digits)';

export class OnboardingSessionDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ description: "The app's handle for this signup attempt; send it back with the completion." })
  trackingCode: string;
  @ApiProperty({ format: 'date-time', description: '30 minutes after the start' }) expiresAt: string;
  @ApiProperty({ description: 'Meta app id for FB.login' }) appId: string;
  @ApiProperty({ description: 'Embedded Signup configuration id (config_id)' }) configId: string;
}

/** What the Embedded Signup callback gave the app (PROVIDERS.md: `authResponse.code` and the FINISH event's data). */
export class CompleteOnboardingDto {
  @ApiProperty({ description: 'authResponse.code (valid 30 s)' })
  @IsString()
  @Length(1, 2048)
  code: string;

  @ApiPropertyOptional({ description: 'data.waba_id of the FINISH event' })
  @IsOptional()
  @Matches(GRAPH_ID, { message: GRAPH_ID_MESSAGE })
  wabaId?: string;

  @ApiPropertyOptional({ description: 'data.phone_number_id; maps the number to the tenant' })
  @IsOptional()
  @Matches(GRAPH_ID, { message: GRAPH_ID_MESSAGE })
  phoneNumberId?: string;

  @ApiPropertyOptional({ description: 'data.business_id; remembered for partner events' })
  @IsOptional()
  @Matches(GRAPH_ID, { message: GRAPH_ID_MESSAGE })
  businessId?: string;

  @ApiPropertyOptional({ description: "The session's trackingCode, checked when sent" })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  trackingCode?: string;
}

export class ConnectionDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() wabaId: string;
  @ApiProperty({ nullable: true, type: String }) phoneNumberId: string | null;
  @ApiProperty({ nullable: true, type: String }) displayPhoneNumber: string | null;
  @ApiProperty({ enum: CONNECTION_STATUSES }) status: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'When the business token expires (the token itself is never answered)' })
  tokenExpiresAt: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) lastCheckedAt: string | null;
}

export class ConnectionPageDto {
  @ApiProperty({ type: [ConnectionDto] }) items: ConnectionDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class TokenCheckDto {
  @ApiProperty() valid: boolean;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) expiresAt: string | null;
  @ApiProperty({ type: [String] }) scopes: string[];
}

export class FlowOptionDto {
  @ApiProperty({ description: 'A whole-message keyword (any case), or the option number' }) match: string;
  @ApiProperty({ description: 'Id of the node this option leads to' }) next: string;
}

export class FlowNodeDto {
  @ApiProperty({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) id: string;
  @ApiProperty({ maxLength: 4096 }) message: string;
  @ApiProperty({ type: [FlowOptionDto] }) options: FlowOptionDto[];
}

/**
 * The graph is validated as a whole by `validateFlow` (which names bad nodes by id), not field by
 * field here; these properties only admit the fields into the body.
 */
export class SaveFlowDto {
  @ApiProperty({ description: 'Id of the start node' })
  @Allow()
  start: unknown;

  @ApiProperty({ type: [FlowNodeDto] })
  @Allow()
  nodes: unknown;

  @ApiPropertyOptional({ description: 'Sent when nothing matches and no AI reply is used; default: the node message again' })
  @Allow()
  fallbackMessage?: unknown;
}

export class FlowDto {
  @ApiProperty() domain: string;
  @ApiProperty() version: number;
  @ApiProperty({ enum: ['draft', 'published'] }) status: string;
  @ApiProperty() start: string;
  @ApiProperty({ type: [FlowNodeDto] }) nodes: FlowNodeDto[];
  @ApiPropertyOptional() fallbackMessage?: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) publishedAt: string | null;
}

export class FlowQueryDto {
  @ApiProperty({ example: 'real_estate', pattern: FLOW_DOMAIN_PATTERN.source })
  @Matches(FLOW_DOMAIN_PATTERN, { message: 'must be lowercase letters, digits and _ (starting with a letter)' })
  domain: string;

  @ApiPropertyOptional({ description: 'A given version instead of the latest' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  version?: number;
}

export class ConversationMessageDto {
  @ApiProperty({ enum: ['inbound', 'outbound'] }) direction: string;
  @ApiProperty({ nullable: true, type: String }) text: string | null;
  @ApiProperty({ format: 'date-time' }) at: string;
}

export class ConversationDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() phoneNumberId: string;
  @ApiProperty({ description: "The customer's WhatsApp number (wa_id)" }) from: string;
  @ApiProperty({ format: 'date-time' }) lastMessageAt: string;
  @ApiProperty({ type: [ConversationMessageDto] }) messages: ConversationMessageDto[];
}

export class ConversationPageDto {
  @ApiProperty({ type: [ConversationDto] }) items: ConversationDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class OrphanDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() wabaId: string;
  @ApiProperty({ nullable: true, type: String }) ownerBusinessId: string | null;
  @ApiProperty({ format: 'date-time' }) receivedAt: string;
}

export class OrphanPageDto {
  @ApiProperty({ type: [OrphanDto] }) items: OrphanDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class ClaimOrphanDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  tenantId: string;
}

export class ClaimedOrphanDto extends ConnectionDto {
  @ApiProperty({ format: 'uuid' }) tenantId: string;
}

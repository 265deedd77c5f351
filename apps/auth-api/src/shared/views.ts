import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ROLES, Role } from '@realapp/auth-guard';

export class UserView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  email: string;

  @ApiProperty()
  name: string;

  @ApiProperty({ enum: ROLES })
  role: Role;
}

export const TENANT_STATUSES = ['active', 'suspended'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

export class TenantView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  name: string;

  @ApiProperty({ enum: TENANT_STATUSES })
  status: TenantStatus;
}

export class TenantAdminView extends TenantView {
  @ApiProperty({ format: 'date-time' })
  createdAt: string;
}

/** Signup, login, refresh and invite acceptance all answer this (SPEC §4). */
export class SessionResponse {
  @ApiProperty({ description: 'ES256 JWT for Authorization: Bearer' })
  accessToken: string;

  @ApiProperty({ description: 'Opaque; single use: each refresh returns a new one' })
  refreshToken: string;

  @ApiProperty({ description: 'Seconds until the access token expires', example: 900 })
  expiresIn: number;

  @ApiProperty({ type: UserView })
  user: UserView;

  @ApiProperty({ type: TenantView })
  tenant: TenantView;
}

export class MeResponse {
  @ApiProperty({ type: UserView })
  user: UserView;

  @ApiProperty({ type: TenantView })
  tenant: TenantView;
}

export class InviteResponse {
  @ApiProperty({ description: 'Single use; give it to the invitee (POST /v1/auth/invites/accept)' })
  token: string;

  @ApiProperty({ format: 'date-time' })
  expiresAt: string;
}

export class CreateTenantResponse {
  @ApiProperty({ type: TenantAdminView })
  tenant: TenantAdminView;

  @ApiPropertyOptional({ type: InviteResponse, description: 'Present when adminEmail was given' })
  invite?: InviteResponse;
}

export class TenantPage {
  @ApiProperty({ type: [TenantAdminView] })
  items: TenantAdminView[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor: string | null;
}

export class WhatsAppNumberView {
  @ApiProperty({ example: '106540352242922' })
  phoneNumberId: string;

  @ApiProperty({ example: '102290129340398' })
  wabaId: string;

  @ApiProperty({ example: '+55 11 99999-0000' })
  displayPhoneNumber: string;

  @ApiProperty({ format: 'uuid' })
  tenantId: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt: string;
}

export class RotatedKeyResponse {
  @ApiProperty({ description: 'The new signing key id (JWT kid)' })
  kid: string;
}

export class JwksResponse {
  @ApiProperty({ type: 'array', items: { type: 'object' }, description: 'Public EC P-256 keys (RFC 7517)' })
  keys: Array<Record<string, string>>;
}

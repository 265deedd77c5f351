import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, MaxLength } from 'class-validator';
import { EmailField, NameField, PasswordField } from '../shared/fields';

export const INVITABLE_ROLES = ['admin', 'member'] as const;
export type InvitableRole = (typeof INVITABLE_ROLES)[number];

export class CreateInviteRequest {
  @EmailField()
  email: string;

  @ApiProperty({ enum: INVITABLE_ROLES })
  @IsIn(INVITABLE_ROLES)
  role: InvitableRole;
}

export class AcceptInviteRequest {
  @ApiProperty({ description: 'The invite token' })
  @IsString()
  @MaxLength(512)
  token: string;

  @PasswordField()
  password: string;

  @NameField('Bruno Lima')
  name: string;
}

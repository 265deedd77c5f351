import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { Transform } from 'class-transformer';
import { EmailField, NameField } from '../shared/fields';

export class CreateTenantRequest {
  @NameField('Imobiliária Souza')
  name: string;

  @ApiPropertyOptional({ description: 'Invite this e-mail as the tenant’s admin' })
  @IsOptional()
  @EmailField()
  adminEmail?: string;
}

export class InviteAdminRequest {
  @EmailField()
  email: string;
}

const GRAPH_ID = /^[0-9]{1,32}$/;

export class MapWhatsAppNumberRequest {
  @ApiProperty({ example: '106540352242922', description: 'Meta phone_number_id' })
  @IsString()
  @Matches(GRAPH_ID, { message: 'must be 1 to 32 digits' })
  phoneNumberId: string;

  @ApiProperty({ example: '102290129340398', description: 'WhatsApp Business Account id' })
  @IsString()
  @Matches(GRAPH_ID, { message: 'must be 1 to 32 digits' })
  wabaId: string;

  @ApiProperty({ example: '+55 11 99999-0000' })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  @IsString()
  @Length(1, 32, { message: 'must be 1 to 32 characters' })
  displayPhoneNumber: string;
}

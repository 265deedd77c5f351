import { ApiProperty } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { EmailField, NameField, PasswordField } from '../shared/fields';

export class SignupRequest {
  @EmailField()
  email: string;

  @PasswordField()
  password: string;

  @NameField('Ana Souza')
  name: string;

  @NameField('Imobiliária Souza')
  tenantName: string;
}

export class LoginRequest {
  @EmailField()
  email: string;

  /** Only checked for shape: a wrong length is just a wrong password (same 401). */
  @ApiProperty({ format: 'password' })
  @IsString()
  @MaxLength(1024)
  password: string;
}

export class RefreshRequest {
  @ApiProperty({ description: 'The refresh token of the last login or refresh' })
  @IsString()
  @MaxLength(512)
  refreshToken: string;
}

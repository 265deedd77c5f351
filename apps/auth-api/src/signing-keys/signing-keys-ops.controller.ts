import { Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiCreatedResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { OpsKeyGuard } from '@realapp/platform';
import { RotatedKeyResponse } from '../shared/views';
import { SigningKeyService } from './signing-key.service';

@ApiTags('ops')
@ApiSecurity('ops-key')
@UseGuards(OpsKeyGuard)
@Controller('v1/ops/auth/signing-keys')
export class SigningKeysOpsController {
  constructor(private readonly keys: SigningKeyService) {}

  @Post('rotate')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Sign new access tokens with a new key; the old one keeps verifying until its tokens expire',
  })
  @ApiCreatedResponse({ type: RotatedKeyResponse })
  async rotate(): Promise<RotatedKeyResponse> {
    return { kid: await this.keys.rotate() };
  }
}

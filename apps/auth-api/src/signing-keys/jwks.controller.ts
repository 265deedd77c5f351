import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { JwksResponse } from '../shared/views';
import { SigningKeyService } from './signing-key.service';

@ApiTags('auth')
@Controller('.well-known')
export class JwksController {
  constructor(private readonly keys: SigningKeyService) {}

  @Get('jwks.json')
  @Header('Cache-Control', 'public, max-age=300')
  @ApiOperation({ summary: 'The public keys that verify access tokens (several during a rotation)' })
  @ApiOkResponse({ type: JwksResponse })
  async jwks(): Promise<JwksResponse> {
    const set = await this.keys.publicJwks();
    return { keys: set.keys as Array<Record<string, string>> };
  }
}

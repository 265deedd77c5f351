import { Global, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { MetricsService } from '@realapp/platform';
import { AccessTokenVerifier } from './access-token.verifier';
import { AuthGuardModule } from './auth-guard.module';

@Global()
@Module({ providers: [MetricsService], exports: [MetricsService] })
class MetricsOnlyModule {}

describe('AuthGuardModule', () => {
  it('counts verified-token cache hits and misses in the service metrics', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' };

    @Module({
      imports: [
        MetricsOnlyModule,
        AuthGuardModule.forRoot({
          issuer: 'https://auth.realapp.local',
          audience: 'realapp-api',
          jwks: () => Promise.resolve({ keys: [jwk] }),
        }),
      ],
    })
    class RootModule {}

    const context = await NestFactory.createApplicationContext(RootModule, { logger: false });
    try {
      const token = await new SignJWT({ tid: randomUUID(), role: 'owner' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
        .setIssuer('https://auth.realapp.local')
        .setAudience('realapp-api')
        .setSubject(randomUUID())
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime('15m')
        .sign(privateKey);
      const verifier = context.get(AccessTokenVerifier);
      for (let i = 0; i < 3; i++) await verifier.verify(token);
      const text = await context.get(MetricsService).registry.metrics();
      expect(text).toMatch(/^auth_verified_token_cache_total\{result="miss"\} 1$/m);
      expect(text).toMatch(/^auth_verified_token_cache_total\{result="hit"\} 2$/m);
    } finally {
      await context.close();
    }
  });
});

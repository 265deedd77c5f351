import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHttpApp, createRootLogger, Env, loadConfig } from '@realapp/platform';
import { AuthApiModule, SERVICE } from './app.module';
import { AUTH_API_SECRETS, AuthApiConfig } from './config';

export interface Created {
  app: NestFastifyApplication;
  config: AuthApiConfig;
}

export async function createAuthApi(env: Env): Promise<Created> {
  const config = loadConfig(SERVICE, AuthApiConfig, env, AUTH_API_SECRETS);
  const logger = createRootLogger({
    service: SERVICE,
    level: config.LOG_LEVEL,
    debugLogDir: config.DEBUG_LOG_DIR,
  });
  const app = await createHttpApp(AuthApiModule.forRoot(config, logger), {
    service: SERVICE,
    config,
    title: 'RealApp auth-api',
    description:
      'Tenants, users, sign-up and login, tokens, invitations, super-admin onboarding, JWKS (SPEC §4).',
  });
  return { app, config };
}

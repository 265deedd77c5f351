import {
  Body,
  Controller,
  createParamDecorator,
  ExecutionContext,
  HttpCode,
  Param,
  Post,
  Req,
} from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { IsOptional, IsString } from 'class-validator';
import type { FastifyRequest } from 'fastify';
import { createTestDatabase, testEnv, TestDatabase } from '@realapp/testing';
import { BaseConfig } from '../config/base.config';
import { loadConfig } from '../config/config.loader';
import { createHttpApp } from './bootstrap';
import { probeModule } from './probe-module.test-helper';

class NoteDto {
  @IsOptional()
  @IsString()
  note?: string;
}

const calls: string[] = [];

/** A custom parameter decorator, as `@CurrentAuth()` is: it reads the request, not its body. */
const Caller = createParamDecorator((_data: unknown, context: ExecutionContext): string =>
  String(context.switchToHttp().getRequest<FastifyRequest>().headers['x-caller'] ?? 'anonymous'),
);

@Controller('probe')
class ProbeController {
  @Post(':id/pause')
  @HttpCode(202)
  pause(@Caller() caller: string, @Param('id') id: string): { paused: string } {
    calls.push(`pause:${id}:${caller}`);
    return { paused: id };
  }

  @Post('note')
  @HttpCode(201)
  note(@Body() body: NoteDto): NoteDto {
    calls.push('note');
    return body;
  }

  @Post('raw')
  @HttpCode(200)
  raw(@Req() request: FastifyRequest): { body: unknown } {
    calls.push('raw');
    return { body: request.body };
  }
}

describe('commands without a body refuse one (SPEC §3: unknown fields → 400)', () => {
  let db: TestDatabase;
  let app: NestFastifyApplication;
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig('no-body-probe', BaseConfig, testEnv(db.url));
    app = await createHttpApp(probeModule('no-body-probe', config, [ProbeController]), {
      service: 'no-body-probe',
      config,
      title: 'no-body-probe',
      description: 'no-body-probe',
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = await app.getUrl();
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const post = (path: string, body?: string): Promise<Response> =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body,
    });

  it('runs with no body or an empty object', async () => {
    calls.length = 0;
    expect((await post('/probe/a/pause')).status).toBe(202);
    expect((await post('/probe/b/pause', '{}')).status).toBe(202);
    expect(calls).toEqual(['pause:a:anonymous', 'pause:b:anonymous']);
  });

  it.each([
    ['{"foo":1}', [{ field: 'foo', message: 'unknown field' }]],
    [
      '{"foo":1,"status":"active"}',
      [
        { field: 'foo', message: 'unknown field' },
        { field: 'status', message: 'unknown field' },
      ],
    ],
    ['[1]', [{ field: '', message: 'this endpoint takes no body' }]],
    ['"pause"', [{ field: '', message: 'this endpoint takes no body' }]],
    ['42', [{ field: '', message: 'this endpoint takes no body' }]],
  ])('refuses %s with 400 validation_failed, before the handler runs', async (body, errors) => {
    calls.length = 0;
    const res = await post('/probe/c/pause', body);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await res.json()).toMatchObject({ status: 400, code: 'validation_failed', errors });
    expect(calls).toEqual([]);
  });

  it('leaves a handler with a body DTO to its DTO, and one that reads the request to itself', async () => {
    calls.length = 0;
    expect(await (await post('/probe/note', '{"note":"hi"}')).json()).toEqual({ note: 'hi' });
    const unknown = await post('/probe/note', '{"foo":1}');
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ errors: [{ field: 'foo', message: 'unknown field' }] });
    expect(await (await post('/probe/raw', '{"foo":1}')).json()).toEqual({ body: { foo: 1 } });
    expect(calls).toEqual(['note', 'raw']);
  });
});

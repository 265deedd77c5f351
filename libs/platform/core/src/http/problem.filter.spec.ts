import { HttpException, NotFoundException } from '@nestjs/common';
import { AppError } from './app-error';
import { toProblem } from './problem.filter';

const fastifyError = (code: string, statusCode: number, message = 'x'): Error =>
  Object.assign(new Error(message), { code, statusCode });

describe('toProblem', () => {
  it('keeps an AppError code, detail, extra fields and headers', () => {
    const { problem, headers } = toProblem(
      new AppError('too_many_attempts', 429, 'Slow down.', { headers: { 'retry-after': '30' }, errors: [] }),
      'cid',
    );
    expect(problem).toMatchObject({ status: 429, code: 'too_many_attempts', detail: 'Slow down.', correlationId: 'cid', errors: [] });
    expect(problem.type).toBe('https://docs.realapp.dev/problems/too-many-attempts');
    expect(headers).toEqual({ 'retry-after': '30' });
  });

  it.each([
    ['FST_ERR_CTP_INVALID_JSON_BODY', 400, 400, 'malformed_json'],
    ['FST_ERR_CTP_EMPTY_JSON_BODY', 400, 400, 'malformed_json'],
    ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 413, 'payload_too_large'],
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 415, 'unsupported_media_type'],
  ])('maps the Fastify error %s to %s %s', (code, statusCode, status, expected) => {
    expect(toProblem(fastifyError(code, statusCode), 'cid').problem).toMatchObject({ status, code: expected });
  });

  it('unwraps the Fastify error Nest wraps in an HttpException', () => {
    const wrapped = new HttpException('Body is not valid JSON', 400, {
      cause: fastifyError('FST_ERR_CTP_INVALID_JSON_BODY', 400),
    });
    expect(toProblem(wrapped, 'cid').problem).toMatchObject({ status: 400, code: 'malformed_json' });
  });

  it('maps a JSON SyntaxError to malformed_json', () => {
    expect(toProblem(new SyntaxError('Unexpected token'), 'cid').problem.code).toBe('malformed_json');
  });

  it('answers 404 for unknown routes', () => {
    expect(toProblem(new NotFoundException(), 'cid').problem).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('never leaks the message, stack or SQL of an unexpected error', () => {
    const error = new Error('duplicate key value violates unique constraint "users_email_key" password=hunter2');
    const { problem } = toProblem(error, 'cid');
    expect(problem).toMatchObject({ status: 500, code: 'internal_error' });
    expect(JSON.stringify(problem)).not.toMatch(/duplicate|users_email|hunter2|at /);
  });
});

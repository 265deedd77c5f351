import { IsString } from 'class-validator';
import { AppError } from './app-error';
import { createValidationPipe } from './validation';

class SignupDto {
  @IsString()
  email: string;
}

const body = { type: 'body' as const, metatype: SignupDto, data: '' };

describe('createValidationPipe', () => {
  const pipe = createValidationPipe();

  it('accepts a body with only known fields', async () => {
    await expect(pipe.transform({ email: 'a@b.co' }, body)).resolves.toBeInstanceOf(SignupDto);
  });

  it.each([
    [JSON.parse('{"email":"a@b.co","constructor":1}'), 'constructor'],
    [JSON.parse('{"email":"a@b.co","__proto__":{"admin":true}}'), '__proto__'],
    [JSON.parse('{"email":"a@b.co","nested":{"prototype":{}}}'), 'nested.prototype'],
    [JSON.parse('{"email":"a@b.co","toString":"x"}'), 'toString'],
    [JSON.parse('{"email":"a@b.co","valueOf":1}'), 'valueOf'],
  ])('refuses reserved keys such as %j as unknown fields', async (input, field) => {
    const error = await pipe.transform(input, body).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('validation_failed');
    expect((error as AppError).extra.errors).toContainEqual({ field, message: 'unknown field' });
  });

  it('refuses ordinary unknown fields and never coerces types', async () => {
    const error = (await pipe.transform({ email: 42, extra: true }, body).catch((e: unknown) => e)) as AppError;
    expect(error.code).toBe('validation_failed');
    expect(error.extra.errors?.map((e) => e.field).sort()).toEqual(['email', 'extra']);
  });
});

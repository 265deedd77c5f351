import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsString, Length, MaxLength } from 'class-validator';

export const normaliseEmail = (value: string): string => value.trim().toLowerCase();

const trimmed = Transform(({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.trim() : value,
);

/** An e-mail, trimmed and lower-cased before it is validated and stored. */
export function EmailField(): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ example: 'ana@example.com', maxLength: 254 }),
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? normaliseEmail(value) : value)),
    IsString(),
    MaxLength(254),
    IsEmail({}, { message: 'must be an e-mail address' }),
  );
}

export function PasswordField(): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ minLength: 10, maxLength: 128, format: 'password' }),
    IsString(),
    Length(10, 128, { message: 'must be 10 to 128 characters' }),
  );
}

/** A display name (person or tenant): trimmed, 1..100 characters. */
export function NameField(example: string): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ minLength: 1, maxLength: 100, example }),
    trimmed,
    IsString(),
    Length(1, 100, { message: 'must be 1 to 100 characters' }),
  );
}

import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { FieldError, validationFailed } from './app-error';

function flatten(errors: ValidationError[], parent = '', out: FieldError[] = []): FieldError[] {
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) {
      out.push({ field, message: message.replace(/^property (\S+) should not exist$/, 'unknown field') });
    }
    if (error.children?.length) flatten(error.children, field, out);
  }
  return out;
}

/**
 * Keys that every object already "has" (`constructor`, `toString`, `valueOf`…, so whitelisting
 * lets them through) and that prototype pollution relies on: refused wherever they appear in a
 * body, as the unknown fields they are.
 */
const RESERVED_KEYS = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

function reservedKeyPaths(value: unknown, parent = '', out: FieldError[] = [], depth = 0): FieldError[] {
  if (depth > 32 || value === null || typeof value !== 'object') return out;
  for (const key of Object.keys(value)) {
    const field = parent ? `${parent}.${key}` : key;
    if (RESERVED_KEYS.has(key)) out.push({ field, message: 'unknown field' });
    else reservedKeyPaths((value as Record<string, unknown>)[key], field, out, depth + 1);
  }
  return out;
}

class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body') {
      const reserved = reservedKeyPaths(value);
      if (reserved.length) throw validationFailed(reserved);
    }
    return super.transform(value, metadata);
  }
}

/** Strict bodies: unknown fields are refused, types are never coerced (a "3000" is not 3000). */
export function createValidationPipe(): ValidationPipe {
  return new StrictValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => validationFailed(flatten(errors)),
  });
}

import { validateSync, ValidationError } from 'class-validator';
import { EventEnvelope, envelopeProblems } from './envelope';

export interface EventDefinition<T extends object = object> {
  readonly type: string;
  readonly version: number;
  readonly schema: new () => T;
}

export function defineEvent<T extends object>(type: string, version: number, schema: new () => T): EventDefinition<T> {
  return Object.freeze({ type, version, schema });
}

/** The payload type of a definition, for typed handlers: `EventEnvelope<EventData<typeof TopupApproved>>`. */
export type EventData<D> = D extends EventDefinition<infer T> ? T : never;

/**
 * The payload as an instance of its schema, for class-validator (which finds the rules by the
 * constructor). A shallow copy of the own properties is enough: event schemas are flat and carry no
 * class-transformer decorators, and class-transformer's deep copy of every payload (a webhook's
 * whole provider body) was a fifteenth of the worker's CPU. Properties are defined, never assigned,
 * so a `__proto__` key in a message cannot swap the prototype and with it the rules.
 */
function asInstance<T extends object>(schema: new () => T, data: object): T {
  const instance = Object.create(schema.prototype) as T;
  for (const key of Object.keys(data)) {
    Object.defineProperty(instance, key, {
      value: (data as Record<string, unknown>)[key],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return instance;
}

function flatten(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    return [
      ...Object.values(error.constraints ?? {}).map((message) => `data.${field}: ${message}`),
      ...flatten(error.children ?? [], field),
    ];
  });
}

/** The one place that knows every event type; filled by `events/index.ts`. */
export class EventRegistry {
  private readonly byType = new Map<string, EventDefinition>();

  constructor(definitions: readonly EventDefinition[]) {
    for (const definition of definitions) {
      if (this.byType.has(definition.type)) throw new Error(`event type registered twice: ${definition.type}`);
      this.byType.set(definition.type, definition);
    }
  }

  get(type: string): EventDefinition | undefined {
    return this.byType.get(type);
  }

  types(): string[] {
    return [...this.byType.keys()];
  }

  /** Problems with a payload for `type` (empty when valid). Unknown fields are problems too. */
  dataProblems(type: string, data: unknown): string[] {
    const definition = this.byType.get(type);
    if (!definition) return [`type: unknown event type ${type}`];
    if (!data || typeof data !== 'object') return ['data: must be an object'];
    const instance = asInstance(definition.schema, data);
    return flatten(validateSync(instance, { whitelist: true, forbidNonWhitelisted: true }));
  }

  /** Checked when received: a message that fails here can never succeed and is dead-lettered. */
  envelopeProblems(value: unknown): string[] {
    const problems = envelopeProblems(value);
    if (problems.length) return problems;
    const envelope = value as EventEnvelope;
    const definition = this.byType.get(envelope.type);
    if (!definition) return [`type: unknown event type ${envelope.type}`];
    if (definition.version !== envelope.version) {
      return [`version: ${envelope.type} v${envelope.version} is not the supported v${definition.version}`];
    }
    return this.dataProblems(envelope.type, envelope.data);
  }
}

/**
 * The little this lib needs from a logger. pino's `Logger` satisfies it as is, so the Nest
 * layer can pass its own; without one the lib stays silent (it never writes to the console).
 */
export interface WhatsAppLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** True when `error` is PostgreSQL's unique_violation on `constraint`. */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  const source = error as {
    code?: unknown;
    constraint?: unknown;
    driverError?: { code?: unknown; constraint?: unknown };
  };
  const driver = source?.driverError ?? source;
  return driver?.code === '23505' && driver.constraint === constraint;
}

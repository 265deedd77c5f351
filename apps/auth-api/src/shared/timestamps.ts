/** SQL for a timestamptz as ISO-8601 UTC with microseconds: keyset cursors must not lose precision. */
export const isoMicros = (column: string): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export const iso = (value: Date | string): string => new Date(value).toISOString();

/**
 * Polls until `probe` stops throwing (poll, never sleep). The last assertion error is the one
 * reported, so a timeout says what was still wrong.
 */
export async function expectEventually<T>(
  probe: () => Promise<T> | T,
  { timeoutMs = 15000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      return await probe();
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
  throw lastError instanceof Error ? lastError : new Error(`condition not met within ${timeoutMs} ms`);
}

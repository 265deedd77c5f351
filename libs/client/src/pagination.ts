/** A list answer of the platform (SPEC §3): `{items, nextCursor}`, `nextCursor` null on the last page. */
export interface CursorPage<T> {
  items: T[];
  nextCursor: string | null;
}

/** Fetches one page; `cursor` is undefined for the first. */
export type FetchPage<T> = (cursor: string | undefined) => Promise<CursorPage<T>>;

/** Every page, following `nextCursor` until it is null. */
export async function* pages<T>(fetchPage: FetchPage<T>): AsyncGenerator<CursorPage<T>, void, undefined> {
  let cursor: string | undefined;
  const seen = new Set<string>();
  for (;;) {
    const page = await fetchPage(cursor);
    yield page;
    if (page.nextCursor === null || page.nextCursor === undefined) return;
    // A cursor that comes back would loop forever; that is a server bug, not something to retry.
    if (seen.has(page.nextCursor)) throw new Error(`pagination cursor repeated: ${page.nextCursor}`);
    seen.add(page.nextCursor);
    cursor = page.nextCursor;
  }
}

/**
 * Every item of a cursor-paginated list, newest first as the platform orders them:
 * `for await (const order of paginate((cursor) => client.GET('/v1/ads/orders', {params: {query: {cursor}}})))`.
 * Pages are fetched lazily, so breaking out of the loop stops fetching.
 */
export async function* paginate<T>(fetchPage: FetchPage<T>): AsyncGenerator<T, void, undefined> {
  for await (const page of pages(fetchPage)) {
    yield* page.items;
  }
}

/** Collects an async iterable into an array, stopping after `max` items. */
export async function collect<T>(iterable: AsyncIterable<T>, max = Number.POSITIVE_INFINITY): Promise<T[]> {
  const items: T[] = [];
  if (max <= 0) return items;
  for await (const item of iterable) {
    items.push(item);
    if (items.length >= max) break;
  }
  return items;
}

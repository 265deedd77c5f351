import { collect, CursorPage, pages, paginate } from './pagination';

/** 7 items served 3 per page, like the platform's keyset pages. */
function pagesOf(
  items: number[],
  size = 3,
): {
  fetchPage: (cursor: string | undefined) => Promise<CursorPage<number>>;
  cursors: Array<string | undefined>;
} {
  const cursors: Array<string | undefined> = [];
  return {
    cursors,
    fetchPage: (cursor) => {
      cursors.push(cursor);
      const start = cursor === undefined ? 0 : Number(cursor);
      const next = start + size;
      return Promise.resolve({
        items: items.slice(start, next),
        nextCursor: next < items.length ? String(next) : null,
      });
    },
  };
}

describe('cursor pagination', () => {
  it('yields every item across pages, following nextCursor until null', async () => {
    const source = pagesOf([1, 2, 3, 4, 5, 6, 7]);
    expect(await collect(paginate(source.fetchPage))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(source.cursors).toEqual([undefined, '3', '6']);
  });

  it('fetches lazily: stopping early fetches no further page', async () => {
    const source = pagesOf([1, 2, 3, 4, 5, 6, 7]);
    expect(await collect(paginate(source.fetchPage), 4)).toEqual([1, 2, 3, 4]);
    expect(source.cursors).toEqual([undefined, '3']);
  });

  it('yields whole pages too, and an empty list is one empty page', async () => {
    const all: Array<CursorPage<number>> = [];
    for await (const page of pages(pagesOf([1, 2, 3, 4]).fetchPage)) all.push(page);
    expect(all.map((p) => p.items)).toEqual([[1, 2, 3], [4]]);
    expect(await collect(pages(pagesOf([]).fetchPage))).toEqual([{ items: [], nextCursor: null }]);
  });

  it('refuses a cursor that comes back instead of looping forever', async () => {
    const stuck = (): Promise<CursorPage<number>> => Promise.resolve({ items: [1], nextCursor: 'same' });
    await expect(collect(paginate(stuck))).rejects.toThrow('pagination cursor repeated: same');
  });

  it('passes a page failure to the caller', async () => {
    const failing = (cursor: string | undefined): Promise<CursorPage<number>> =>
      cursor ? Promise.reject(new Error('page 2 failed')) : Promise.resolve({ items: [1], nextCursor: 'c2' });
    await expect(collect(paginate(failing))).rejects.toThrow('page 2 failed');
  });
});

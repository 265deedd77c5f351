import { LoadSpan, percentile, ratePerSecond, sortedCopy } from './stats';

describe('percentile', () => {
  it('uses the nearest rank', () => {
    const values = sortedCopy([5, 1, 4, 2, 3, 10, 9, 8, 7, 6]);
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 99)).toBe(10);
    expect(percentile(values, 10)).toBe(1);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('ratePerSecond', () => {
  it('divides by the measured span, fractions of a second included', () => {
    // 20,000 events in 2.3 s, which autocannon reports as 3.01 s (6,645/s).
    expect(ratePerSecond(20_000, 2.3)).toBeCloseTo(8695.65, 2);
  });

  it('has no rate for an empty span', () => {
    expect(ratePerSecond(0, 0)).toBeNaN();
    expect(ratePerSecond(10, 0)).toBeNaN();
  });
});

describe('LoadSpan', () => {
  const ms = (value: number): bigint => BigInt(value) * 1_000_000n;

  it('runs from the first request sent to the last response received', () => {
    const span = new LoadSpan();
    span.sent(ms(1_000));
    span.sent(ms(1_500));
    span.answered(ms(1_200));
    span.answered(ms(3_300));
    expect(span.seconds).toBe(2.3);
  });

  it('is empty until a response follows a request', () => {
    const span = new LoadSpan();
    expect(span.seconds).toBe(0);
    span.sent(ms(5));
    expect(span.seconds).toBe(0);
    span.answered(ms(4));
    expect(span.seconds).toBe(0);
  });

  it('reads the monotonic clock when no time is given', async () => {
    const span = new LoadSpan();
    span.sent();
    await new Promise((resolve) => setTimeout(resolve, 20));
    span.answered();
    expect(span.seconds).toBeGreaterThanOrEqual(0.015);
    expect(span.seconds).toBeLessThan(1);
  });
});

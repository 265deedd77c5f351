import {
  creditDeadlineMs,
  creditsKeptPace,
  heldRate,
  LoadSpan,
  peakRate,
  percentile,
  ratePerSecond,
  sortedCopy,
} from './stats';

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

describe('creditDeadlineMs', () => {
  it('grows with the events, from a floor for the worker to get going', () => {
    expect(creditDeadlineMs(0)).toBe(30_000);
    expect(creditDeadlineMs(20_000)).toBe(130_000);
    expect(creditDeadlineMs(40_000)).toBe(230_000);
  });

  it('leaves room for the slowest crediting measured (240/s)', () => {
    for (const events of [1_000, 6_666, 20_000, 100_000]) {
      expect(creditDeadlineMs(events)).toBeGreaterThan((events / 240) * 1000);
    }
  });
});

describe('peakRate', () => {
  it('is the average for an even stream', () => {
    // 2,000/s for 10 s: one every 0.5 ms.
    const even = Array.from({ length: 20_000 }, (_, i) => i * 0.5);
    expect(peakRate(even, 100)).toBe(2000);
  });

  it('shows bursts the average hides', () => {
    // 2,000 a second, each second's sent within its first 0.6 s (autocannon's per-second pacing).
    const bursts = Array.from({ length: 10 }, (_, s) =>
      Array.from({ length: 2000 }, (_, i) => s * 1000 + i * 0.3),
    ).flat();
    expect(peakRate(bursts, 100)).toBe(3340);
  });

  it('counts a window as [t, t + window): a send exactly one window later starts the next', () => {
    expect(peakRate([0, 50, 100, 150], 100)).toBe(20);
    expect(peakRate([0, 99, 100], 100)).toBe(20);
  });

  it('is 0 for nothing sent', () => {
    expect(peakRate([], 100)).toBe(0);
  });
});

describe('heldRate', () => {
  it('holds at 95% of the asked rate and above, not below', () => {
    // 20,000 at 2,000/s: the last answer comes just after 10 s.
    expect(heldRate(1992, 2000)).toBe(true);
    expect(heldRate(1900, 2000)).toBe(true);
    expect(heldRate(1899, 2000)).toBe(false);
    expect(heldRate(Number.NaN, 2000)).toBe(false);
  });
});

describe('creditsKeptPace', () => {
  const kept = { sent: 20_000, credited: 20_000, drainLagMs: 350, p99Ms: 420 };

  it('keeps pace when the backlog drains within a second and p99 is under a second', () => {
    expect(creditsKeptPace(kept)).toBe(true);
    expect(creditsKeptPace({ ...kept, drainLagMs: 1000, p99Ms: 999 })).toBe(true);
  });

  it('falls behind when the last credit comes more than a second after the last webhook', () => {
    expect(creditsKeptPace({ ...kept, drainLagMs: 1001 })).toBe(false);
  });

  it('falls behind when 1% of the webhooks waited a second or more, however fast the end drained', () => {
    expect(creditsKeptPace({ ...kept, p99Ms: 1000 })).toBe(false);
  });

  it('never keeps pace with a webhook left uncredited or nothing sent', () => {
    expect(creditsKeptPace({ ...kept, credited: 19_999, drainLagMs: Number.NaN })).toBe(false);
    expect(creditsKeptPace({ ...kept, credited: 19_999 })).toBe(false);
    expect(creditsKeptPace({ sent: 0, credited: 0, drainLagMs: Number.NaN, p99Ms: Number.NaN })).toBe(false);
  });
});

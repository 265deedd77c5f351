import { checkSchedule, checkTargeting } from './orders.service';

describe('cross-field checks of a new order (SPEC §13)', () => {
  const now = new Date('2030-01-01T12:00:00Z');

  it('wants endsAt after startsAt, or after now without a start', () => {
    expect(checkSchedule({}, now)).toEqual({ startsAt: null, endsAt: null, problems: [] });
    expect(
      checkSchedule({ startsAt: '2030-01-02T00:00:00Z', endsAt: '2030-01-03T00:00:00Z' }, now).problems,
    ).toEqual([]);
    expect(
      checkSchedule({ startsAt: '2030-01-02T00:00:00Z', endsAt: '2030-01-02T00:00:00Z' }, now).problems,
    ).toEqual([{ field: 'endsAt', message: 'endsAt must be after startsAt' }]);
    expect(checkSchedule({ endsAt: '2030-01-01T11:59:59Z' }, now).problems).toEqual([
      { field: 'endsAt', message: 'endsAt must be in the future' },
    ]);
    expect(checkSchedule({ endsAt: '2030-01-01T12:00:01Z' }, now).problems).toEqual([]);
    // A start in the past is allowed: the order simply starts when it is funded.
    expect(checkSchedule({ startsAt: '2029-01-01T00:00:00Z' }, now)).toMatchObject({
      startsAt: new Date('2029-01-01T00:00:00Z'),
      problems: [],
    });
  });

  it('wants ageMax ≥ ageMin', () => {
    expect(checkTargeting({ targeting: { countries: ['BR'], ageMin: 18, ageMax: 18 } })).toEqual([]);
    expect(checkTargeting({ targeting: { countries: ['BR'], ageMin: 30, ageMax: 29 } })).toEqual([
      { field: 'targeting.ageMax', message: 'ageMax must be greater than or equal to ageMin' },
    ]);
  });
});

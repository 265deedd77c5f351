import {
  higherLevel,
  httpIncidentCode,
  incidentFingerprint,
  incidentReportFileName,
  levelForCount,
  reportLevelsCrossed,
} from './incident-rules';
import { renderIncidentReport } from './incident-report';
import { fullTrace } from './incident.service';

describe('incident rules (SPEC §9)', () => {
  it('escalates at 3, 5 and 8 occurrences', () => {
    const levels = Array.from({ length: 10 }, (_, i) => levelForCount(i + 1));
    expect(levels).toEqual([null, null, 'L1', 'L1', 'L2', 'L2', 'L2', 'L3', 'L3', 'L3']);
  });

  it('fingerprints by code and place only, as a file-name-safe hex id', () => {
    const a = incidentFingerprint('internal_error', 'GET /v1/ops/metrics');
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(incidentFingerprint('internal_error', 'GET /v1/ops/metrics')).toBe(a);
    expect(incidentFingerprint('internal_error', 'GET /v1/ops/audit')).not.toBe(a);
    expect(incidentFingerprint('meta_unavailable', 'GET /v1/ops/metrics')).not.toBe(a);
    // The separator keeps ("a b", "c") and ("a", "b c") apart.
    expect(incidentFingerprint('a b', 'c')).not.toBe(incidentFingerprint('a', 'b c'));
  });

  it('never lowers a level and reports each of L2 and L3 once', () => {
    expect(higherLevel('L2', 'L1')).toBe('L2');
    expect(higherLevel(null, 'L1')).toBe('L1');
    expect(higherLevel('L1', null)).toBe('L1');
    expect(reportLevelsCrossed(null, 'L1')).toEqual([]);
    expect(reportLevelsCrossed('L1', 'L2')).toEqual(['L2']);
    expect(reportLevelsCrossed('L2', 'L2')).toEqual([]);
    expect(reportLevelsCrossed('L2', 'L3')).toEqual(['L3']);
    expect(reportLevelsCrossed(null, 'L3')).toEqual(['L2', 'L3']);
    expect(reportLevelsCrossed('L3', 'L3')).toEqual([]);
  });

  it('names report files incident-<timestamp>-<fingerprint>.md', () => {
    const name = incidentReportFileName(new Date('2026-11-24T11:53:11.123Z'), 'abcdef0123456789');
    expect(name).toBe('incident-20261124T115311123Z-abcdef0123456789.md');
  });

  it('refines internal errors by their own code (a pg SQLSTATE, a socket error)', () => {
    expect(httpIncidentCode('internal_error', Object.assign(new Error('x'), { code: '57014' }))).toBe(
      'internal_error:57014',
    );
    expect(httpIncidentCode('internal_error', Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(
      'internal_error:ECONNREFUSED',
    );
    expect(httpIncidentCode('internal_error', new Error('x'))).toBe('internal_error');
    expect(
      httpIncidentCode('internal_error', Object.assign(new Error('x'), { code: 'has spaces and more' })),
    ).toBe('internal_error');
    expect(httpIncidentCode('service_unavailable', Object.assign(new Error('x'), { code: 'E' }))).toBe(
      'service_unavailable',
    );
  });

  it('keeps the cause chain in the trace and redacts e-mail addresses and bearer tokens', () => {
    const error = new Error('outer for ana@example.com', {
      cause: new Error('inner with Bearer abc.def.ghi'),
    });
    const trace = fullTrace(error)!;
    expect(trace).toContain('outer for [redacted]');
    expect(trace).toContain('Caused by: Error: inner with Bearer [redacted]');
    expect(trace).not.toContain('ana@example.com');
    expect(fullTrace('plain text')).toBe('plain text');
  });
});

describe('incident report', () => {
  const incident = {
    id: '6f1b0c1e-0000-4000-8000-000000000001',
    fingerprint: 'abcdef0123456789',
    code: 'internal_error',
    place: 'GET /v1/things',
    count: 8,
    firstSeenAt: new Date('2026-11-24T11:00:00Z'),
    lastSeenAt: new Date('2026-11-24T11:05:00Z'),
    services: ['queue-api', 'codex-worker'],
  };
  const occurrences = [
    {
      at: new Date('2026-11-24T11:05:00Z'),
      service: 'queue-api',
      instanceId: 'h:1',
      message: 'boom | pipe',
      correlationId: 'c-2',
      stack: 'Error: boom\n    at b',
    },
    {
      at: new Date('2026-11-24T11:04:00Z'),
      service: 'codex-worker',
      instanceId: 'h:2',
      message: 'boom',
      correlationId: 'c-1',
      stack: 'Error: boom\n    at a',
    },
  ];

  it('L2 summarises with the latest trace and no log lines', () => {
    const md = renderIncidentReport({
      level: 'L2',
      incident,
      occurrences,
      logLines: [],
      logDir: '/logs',
      generatedAt: new Date(),
      generatedBy: 'queue-api',
    });
    expect(md).toContain('# Incident L2: `internal_error` at `GET /v1/things`');
    expect(md).toContain('| Services | queue-api, codex-worker |');
    expect(md).toContain('boom \\| pipe');
    expect(md).toContain('## Latest trace');
    expect(md).toContain('at b');
    expect(md).not.toContain('at a');
    expect(md).not.toContain('Correlated log lines');
  });

  it('L3 has every distinct trace and the correlated log lines grouped by correlation id', () => {
    const md = renderIncidentReport({
      level: 'L3',
      incident,
      occurrences,
      logLines: [
        {
          file: 'queue-api-2026-11-24.jsonl',
          time: '2026-11-24T11:04:00.000Z',
          correlationId: 'c-1',
          line: '{"msg":"first"}',
        },
        {
          file: 'codex-worker-2026-11-24.jsonl',
          time: '2026-11-24T11:05:00.000Z',
          correlationId: 'c-2',
          line: '{"msg":"second"}',
        },
      ],
      logDir: '/logs',
      generatedAt: new Date(),
      generatedBy: 'queue-api',
    });
    expect(md).toContain('## Full traces (2 distinct)');
    expect(md).toContain('at a');
    expect(md).toContain('at b');
    expect(md).toContain('### correlation id c-1');
    expect(md).toContain('queue-api-2026-11-24.jsonl: {"msg":"first"}');
    expect(md).toContain('codex-worker-2026-11-24.jsonl: {"msg":"second"}');
  });

  it('says so when there is no DEBUG_LOG_DIR to read', () => {
    const md = renderIncidentReport({
      level: 'L3',
      incident,
      occurrences,
      logLines: [],
      logDir: null,
      generatedAt: new Date(),
      generatedBy: 'x',
    });
    expect(md).toContain('DEBUG_LOG_DIR is not set');
  });
});

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/*
 * The deployment files validated with the real tools: Prometheus's promtool (Debian package
 * `prometheus`) for the scrape config, the alert rules and their unit tests, and Debian's
 * docker-compose 1.29 for docker-compose.yml. Also checks that every metric the rules and the
 * Grafana dashboard query is one the code declares, so a renamed metric cannot silently blind an alert.
 */

const ROOT = join(__dirname, '../../..');
const OBSERVABILITY = join(ROOT, 'deploy/observability');

function tool(path: string, debianPackage: string): string {
  if (!existsSync(path))
    throw new Error(
      `${path} is missing: install the Debian package "${debianPackage}" (apt-get install ${debianPackage})`,
    );
  return path;
}

function run(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.spec.ts') && !name.endsWith('.int-spec.ts'))
      out.push(path);
  }
  return out;
}

/** Every metric name the code registers through MetricsService (counter/gauge/histogram). */
function declaredMetrics(): Set<string> {
  const names = new Set<string>(['up']);
  for (const file of [...sourceFiles(join(ROOT, 'apps')), ...sourceFiles(join(ROOT, 'libs'))]) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/\.(counter|gauge|histogram)\(\s*'([a-z_][a-z0-9_]*)'/g)) {
      names.add(match[2]);
      if (match[1] === 'histogram')
        for (const suffix of ['_bucket', '_count', '_sum']) names.add(`${match[2]}${suffix}`);
    }
  }
  return names;
}

const PROMQL_WORDS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'by',
  'without',
  'and',
  'or',
  'unless',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'rate',
  'irate',
  'increase',
  'delta',
  'deriv',
  'histogram_quantile',
  'vector',
  'time',
  'min_over_time',
  'max_over_time',
  'avg_over_time',
  'absent',
  'bool',
  'offset',
  'topk',
  'bottomk',
  'clamp_min',
  'clamp_max',
  'label_replace',
]);

/** Metric names in a PromQL expression: strings, label matchers, groupings and ranges removed first. */
function metricsIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  return [...stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
    .map((m) => m[0])
    .filter((word) => !PROMQL_WORDS.has(word) && !/^\d/.test(word));
}

/** `expr:` values of a rules file, single-line or block scalars. */
function ruleExpressions(yaml: string): string[] {
  const lines = yaml.split('\n');
  const exprs: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const match = /^(\s*)expr:\s*(.*)$/.exec(lines[i]);
    if (!match) continue;
    if (match[2] !== '|' && match[2] !== '>') {
      exprs.push(match[2]);
      continue;
    }
    const block: string[] = [];
    while (
      i + 1 < lines.length &&
      (lines[i + 1].trim() === '' || lines[i + 1].search(/\S/) > match[1].length)
    )
      block.push(lines[++i]);
    exprs.push(block.join('\n'));
  }
  return exprs;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { uid: string };
  targets?: Array<{ expr: string }>;
}

describe('deployment files', () => {
  const rulesFiles = readdirSync(OBSERVABILITY).filter((name) => name.endsWith('.rules.yml'));

  it('has alert rules that promtool accepts', () => {
    expect(rulesFiles.length).toBeGreaterThan(0);
    const result = run(tool('/usr/bin/promtool', 'prometheus'), [
      'check',
      'rules',
      ...rulesFiles.map((f) => join(OBSERVABILITY, f)),
    ]);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('passes the alert unit tests (promtool test rules)', () => {
    const result = run(tool('/usr/bin/promtool', 'prometheus'), [
      'test',
      'rules',
      join(OBSERVABILITY, 'tests/alerts.test.yml'),
    ]);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('has a Prometheus config that promtool accepts and that scrapes the four services', () => {
    const result = run(tool('/usr/bin/promtool', 'prometheus'), [
      'check',
      'config',
      join(OBSERVABILITY, 'prometheus.yml'),
    ]);
    expect(result.status).toBe(0);
    const config = readFileSync(join(OBSERVABILITY, 'prometheus.yml'), 'utf8');
    for (const target of ['auth-api:3001', 'queue-api:3002', 'webhook-gateway:3003', 'codex-worker:3004'])
      expect(config).toContain(target);
  });

  it('alerts on everything the seed runbooks ask for', () => {
    const rules = rulesFiles.map((f) => readFileSync(join(OBSERVABILITY, f), 'utf8')).join('\n');
    for (const alert of [
      'WebhookFailuresLastHour',
      'JobsFailedAboveThreshold',
      'WorkerHeartbeatStale',
      'QueuedOrdersGrowing',
      'DeadLetterGrowth',
      'OutboxLag',
      'ReadinessDown',
      'ServiceDown',
      'LedgerDoesNotVerify',
      'IncidentL3',
    ]) {
      expect(rules).toContain(`alert: ${alert}\n`);
    }
    // Every alert tells on-call where to read next, and that section exists.
    const runbook = readFileSync(join(ROOT, 'docs/runbook.md'), 'utf8');
    const anchors = new Set(
      [...runbook.matchAll(/^#{2,4} (.+)$/gm)].map((m) =>
        m[1]
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .trim()
          .replace(/ /g, '-'),
      ),
    );
    for (const match of rules.matchAll(/runbook: docs\/runbook\.md#([a-z0-9-]+)/g))
      expect([match[1], anchors.has(match[1])]).toEqual([match[1], true]);
  });

  it('queries only metrics the code declares, in the rules and in the dashboard', () => {
    const declared = declaredMetrics();
    const rules = rulesFiles.map((f) => readFileSync(join(OBSERVABILITY, f), 'utf8')).join('\n');
    const dashboard = JSON.parse(
      readFileSync(join(OBSERVABILITY, 'grafana/dashboards/realapp-oncall.json'), 'utf8'),
    ) as { panels: Panel[] };
    const exprs = [
      ...ruleExpressions(rules),
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ];
    expect(exprs.length).toBeGreaterThan(40);
    const used = new Set(exprs.flatMap(metricsIn));
    // The extraction itself works: known names are found, label names and functions are not.
    for (const name of [
      'worker_heartbeat_age_seconds',
      'http_request_duration_seconds_bucket',
      'webhooks_rejected_total',
    ])
      expect(used.has(name)).toBe(true);
    for (const word of ['status', 'le', 'rate', 'histogram_quantile', 'job'])
      expect(used.has(word)).toBe(false);
    expect(metricsIn('sum by (job) (rate(no_such_metric_total{a="b"}[5m])) > 0')).toEqual([
      'no_such_metric_total',
    ]);
    const unknown = [...used].filter((name) => !declared.has(name));
    expect(unknown).toEqual([]);
  });

  it('has a Grafana dashboard and provisioning that fit together', () => {
    const dashboard = JSON.parse(
      readFileSync(join(OBSERVABILITY, 'grafana/dashboards/realapp-oncall.json'), 'utf8'),
    ) as {
      uid: string;
      title: string;
      panels: Panel[];
    };
    expect(dashboard).toMatchObject({ uid: 'realapp-oncall', title: 'RealApp on-call' });
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const datasource = readFileSync(
      join(OBSERVABILITY, 'grafana/provisioning/datasources/prometheus.yml'),
      'utf8',
    );
    const uid = /uid:\s*(\S+)/.exec(datasource)?.[1];
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect([panel.title, panel.datasource?.uid]).toEqual([panel.title, uid]);
      expect(panel.targets?.length).toBeGreaterThan(0);
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
    }
    const provider = readFileSync(join(OBSERVABILITY, 'grafana/provisioning/dashboards/realapp.yml'), 'utf8');
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    const path = /path:\s*(\S+)/.exec(provider)?.[1] ?? '';
    expect(compose).toContain(`./deploy/observability/grafana/dashboards:${path}:ro`);
    expect(compose).toContain('./deploy/observability/grafana/provisioning:/etc/grafana/provisioning:ro');
  });

  it('has a docker-compose.yml that docker-compose 1.29 accepts, with every service, healthchecks and start conditions', () => {
    const compose = tool('/usr/bin/docker-compose', 'docker-compose');
    const file = join(ROOT, 'docker-compose.yml');
    const check = run(compose, ['-f', file, 'config', '-q']);
    expect(check.output).toBe('');
    expect(check.status).toBe(0);
    const services = run(compose, ['-f', file, 'config', '--services']).output.trim().split('\n').sort();
    expect(services).toEqual(
      [
        'auth-api',
        'codex-worker',
        'gateway',
        'grafana',
        'migrate',
        'postgres',
        'prometheus',
        'provider-sandbox',
        'queue-api',
        'rabbitmq',
        'redis',
        'webhook-gateway',
      ].sort(),
    );
    const resolved = run(compose, ['-f', file, 'config']).output;
    for (const app of ['auth-api', 'queue-api', 'webhook-gateway', 'codex-worker']) {
      expect(resolved).toContain(`- dist/apps/${app}/src/main.js`);
      expect(existsSync(join(ROOT, `apps/${app}/src/main.ts`))).toBe(true);
    }
    expect(resolved).toContain('condition: service_completed_successfully');
    expect(resolved).toContain('condition: service_healthy');
    expect(resolved.match(/healthcheck:/g)?.length).toBeGreaterThanOrEqual(10);
    for (const script of ['dist/tools/migrations/src/run.js', 'dist/tools/provider-sandbox/src/main.js']) {
      expect(resolved).toContain(script);
      expect(existsSync(join(ROOT, script.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
    }
  }, 60_000);

  it('builds every process from one multi-stage Dockerfile', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(3);
    expect(dockerfile).toContain('RUN npm ci');
    expect(dockerfile).toContain('RUN node tools/dev/build.mjs');
    expect(dockerfile).toContain('COPY --from=build');
    expect(dockerfile).toMatch(/^USER node$/m);
    // The backup scripts run from the same image (pg_dump comes with postgresql-client).
    expect(dockerfile).toContain('COPY --chown=node:node tools/ops ./tools/ops');
    expect(dockerfile).toContain('postgresql-client');
  });
});

import { MetaAdsError } from './graph.errors';
import { CreateCampaignInput, MetaLogger } from './meta-ads.api';
import { MetaSimulator, SIMULATOR_LOG_FIELDS } from './meta-simulator';

const input: CreateCampaignInput = {
  adAccountId: '1234567890',
  name: 'realapp-order-o-1',
  objective: 'leads',
  status: 'ACTIVE',
  lifetimeBudgetCents: 2000,
};

function recordingLogger(): { logger: MetaLogger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const push = (obj: Record<string, unknown>, msg: string): void => {
    lines.push({ ...obj, msg });
  };
  return { logger: { info: push, warn: push, debug: push }, lines };
}

describe('MetaSimulator', () => {
  it('says it is the simulator', () => {
    expect(new MetaSimulator().mode).toBe('simulator');
    expect(SIMULATOR_LOG_FIELDS).toEqual({ metaMode: 'simulator' });
  });

  it('creates campaigns with ids that depend only on account and name', async () => {
    const first = await new MetaSimulator().createCampaign(input);
    const afterRestart = await new MetaSimulator().createCampaign({
      ...input,
      adAccountId: 'act_1234567890',
    });
    const other = await new MetaSimulator().createCampaign({ ...input, name: 'realapp-order-o-2' });

    expect(first.id).toMatch(/^sim_[0-9a-f]{16}$/);
    expect(afterRestart).toEqual(first);
    expect(other.id).not.toBe(first.id);
  });

  it('gives a second campaign with the same name its own id, as Graph would', async () => {
    const simulator = new MetaSimulator();
    const a = await simulator.createCampaign(input);
    const b = await simulator.createCampaign(input);

    expect(b.id).toBe(`${a.id}_2`);
    expect(simulator.listCampaigns()).toHaveLength(2);
  });

  it('stores what Meta would store, with the objective mapped', async () => {
    const simulator = new MetaSimulator();
    const { id } = await simulator.createCampaign({ ...input, status: 'PAUSED' });

    expect(simulator.getCampaign(id)).toEqual({
      id,
      adAccountId: 'act_1234567890',
      name: 'realapp-order-o-1',
      objective: 'OUTCOME_LEADS',
      status: 'PAUSED',
      lifetimeBudgetCents: 2000,
      spentCents: 0,
      adopted: false,
    });
  });

  it('finds a campaign by account and exact name', async () => {
    const simulator = new MetaSimulator();
    const { id } = await simulator.createCampaign(input);

    await expect(
      simulator.findCampaignByName({ adAccountId: 'act_1234567890', name: input.name }),
    ).resolves.toEqual({
      id,
      status: 'ACTIVE',
    });
    await expect(simulator.findCampaignByName({ adAccountId: '999', name: input.name })).resolves.toBeNull();
    await expect(
      simulator.findCampaignByName({ adAccountId: input.adAccountId, name: 'realapp-order-o-10' }),
    ).resolves.toBeNull();
  });

  it('grows spend by the step on each read while active, never past the lifetime budget', async () => {
    const simulator = new MetaSimulator({ spendStepCents: 700 });
    const { id } = await simulator.createCampaign(input);

    const reads = [];
    for (let i = 0; i < 4; i += 1) {
      reads.push(await simulator.getCampaignSpendCents(id));
    }

    expect(reads).toEqual([700, 1400, 2000, 2000]);
  });

  it('does not spend while paused, and spends again after resume', async () => {
    const simulator = new MetaSimulator({ spendStepCents: 100 });
    const { id } = await simulator.createCampaign(input);
    await simulator.getCampaignSpendCents(id);

    await simulator.updateCampaignStatus(id, 'PAUSED');
    await expect(simulator.getCampaignSpendCents(id)).resolves.toBe(100);
    await expect(simulator.getCampaignSpendCents(id)).resolves.toBe(100);

    await simulator.updateCampaignStatus(id, 'ACTIVE');
    await expect(simulator.getCampaignSpendCents(id)).resolves.toBe(200);
  });

  it('keeps spend still with a zero step, and adds exactly what addSpend is given', async () => {
    const simulator = new MetaSimulator({ spendStepCents: 0 });
    const { id } = await simulator.createCampaign(input);

    await expect(simulator.getCampaignSpendCents(id)).resolves.toBe(0);
    simulator.addSpend(id, 1234);
    simulator.addSpend(id, 1000);
    // Uncapped on purpose: over-delivery past the budget is a case the worker must handle.
    await expect(simulator.getCampaignSpendCents(id)).resolves.toBe(2234);
  });

  it('refuses to change a deleted campaign, like Graph', async () => {
    const simulator = new MetaSimulator();
    const { id } = await simulator.createCampaign(input);
    await simulator.updateCampaignStatus(id, 'DELETED');

    await expect(simulator.updateCampaignStatus(id, 'ACTIVE')).rejects.toMatchObject({
      code: 'meta_rejected',
      retryable: false,
      graph: { code: 100 },
    });
    await expect(simulator.updateCampaignStatus(id, 'DELETED')).resolves.toBeUndefined();
  });

  it('rejects bad input as a promise rejection with meta_rejected, never a synchronous throw', async () => {
    const simulator = new MetaSimulator();

    const pending = simulator.createCampaign({ ...input, lifetimeBudgetCents: 0 });

    await expect(pending).rejects.toBeInstanceOf(MetaAdsError);
    await expect(simulator.createCampaign({ ...input, name: ' ' })).rejects.toMatchObject({
      code: 'meta_rejected',
    });
    await expect(simulator.createCampaign({ ...input, adAccountId: 'act_../x' })).rejects.toMatchObject({
      code: 'meta_rejected',
    });
  });

  it('adopts a campaign id it does not know (a worker restart wiped its memory)', async () => {
    const { logger, lines } = recordingLogger();
    const simulator = new MetaSimulator({ spendStepCents: 50, logger });

    await simulator.updateCampaignStatus('sim_0000000000000001', 'PAUSED');
    await simulator.updateCampaignStatus('sim_0000000000000001', 'ACTIVE');

    await expect(simulator.getCampaignSpendCents('sim_0000000000000001')).resolves.toBe(50);
    expect(simulator.getCampaign('sim_0000000000000001')).toMatchObject({ adopted: true, status: 'ACTIVE' });
    expect(lines.filter((line) => line.operation === 'adopt')).toHaveLength(1);
  });

  it('fails the next calls of one method with an injected error, then recovers', async () => {
    const simulator = new MetaSimulator();
    const throttled = new MetaAdsError('meta_throttled', 'slow down');
    simulator.failNext('createCampaign', throttled, 2);

    await expect(simulator.createCampaign(input)).rejects.toBe(throttled);
    await expect(simulator.findCampaignByName(input)).resolves.toBeNull();
    await expect(simulator.createCampaign(input)).rejects.toBe(throttled);
    await expect(simulator.createCampaign(input)).resolves.toEqual({ id: expect.stringMatching(/^sim_/) });
  });

  it('marks every log line as simulated', async () => {
    const { logger, lines } = recordingLogger();
    const simulator = new MetaSimulator({ spendStepCents: 10, logger });
    simulator.failNext('getCampaignSpendCents', new MetaAdsError('meta_unavailable', 'down'));

    const { id } = await simulator.createCampaign(input);
    await simulator.updateCampaignStatus(id, 'PAUSED');
    await expect(simulator.getCampaignSpendCents(id)).rejects.toThrow('down');
    await simulator.getCampaignSpendCents(id);
    simulator.addSpend(id, 5);
    await simulator.updateCampaignStatus('sim_unknown', 'PAUSED');

    expect(lines.length).toBeGreaterThanOrEqual(6);
    for (const line of lines) {
      expect(line).toMatchObject({ metaMode: 'simulator' });
      expect(line.msg).toMatch(/^Meta simulator: /);
    }
  });

  it('forgets everything on reset', async () => {
    const simulator = new MetaSimulator();
    await simulator.createCampaign(input);
    simulator.failNext('createCampaign', new MetaAdsError('meta_unavailable', 'down'));

    simulator.reset();

    expect(simulator.listCampaigns()).toEqual([]);
    await expect(simulator.createCampaign(input)).resolves.toBeDefined();
  });

  it('refuses a negative or fractional spend step', () => {
    expect(() => new MetaSimulator({ spendStepCents: -1 })).toThrow(RangeError);
    expect(() => new MetaSimulator({ spendStepCents: 1.5 })).toThrow(RangeError);
  });
});

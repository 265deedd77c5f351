import { randomInt } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { WhatsAppNumberMapped } from '@realapp/contracts';
import { OutboxService } from '@realapp/messaging';
import { startTestSandbox, TestSandbox } from '@realapp/testing';
import {
  ConnectionView,
  OnboardingService,
  TokenCipher,
  TokenVault,
  WhatsAppApiError,
  WhatsAppGraphClient,
  WhatsAppModuleOptions,
} from '@realapp/whatsapp';
import { CreateTenantResponse, WhatsAppNumberView } from '../shared/views';
import { AuthApiHarness, startAuthApi, SUPER } from '../testing/auth-api.test-helper';

const APP_ID = '1000000000000001';
const DISPLAY = '+55 11 98765-4321';

interface SignupIds {
  wabaId: string;
  phoneNumberId: string;
}

/** What either path answered: 201, or the refusal's status and code. */
type Outcome = { status: 201 } | { status: number; code: string };

/**
 * The real Graph client against the provider sandbox, with a hook between the app subscription and
 * the completion's transaction: the race test releases both paths into their transactions at once.
 */
class GatedGraphClient extends WhatsAppGraphClient {
  beforeTransaction: (() => Promise<void>) | null = null;

  override async subscribeApp(wabaId: string, token: string): Promise<void> {
    await super.subscribeApp(wabaId, token);
    await this.beforeTransaction?.();
  }
}

/**
 * "One number, one tenant" across the two paths that map a WhatsApp number (SPEC §4, §14, §16):
 * the super-admin mapping of auth-api (over HTTP) and the Embedded Signup completion of the
 * WhatsApp lib (its real service, Meta played by the provider sandbox), on one real database.
 */
describe('a WhatsApp number belongs to one tenant, whichever path mapped it', () => {
  let api: AuthApiHarness;
  let sandbox: TestSandbox;
  let graph: GatedGraphClient;
  let onboarding: OnboardingService;

  const aTenant = async (): Promise<string> => {
    const answer = await api.post<CreateTenantResponse>('/v1/super/tenants', { name: 'Zap' }, SUPER);
    if (answer.status !== 201) throw new Error(`tenant creation answered ${answer.status}`);
    return answer.body.tenant.id;
  };
  const ids = (): SignupIds => {
    const base = randomInt(100_000_000, 999_999_999);
    return { wabaId: `10${base}`, phoneNumberId: `20${base}` };
  };
  const mapNumber = async (tenantId: string, signup: SignupIds): Promise<Outcome> => {
    const answer = await api.post<WhatsAppNumberView>(
      `/v1/super/tenants/${tenantId}/whatsapp-accounts`,
      { phoneNumberId: signup.phoneNumberId, wabaId: signup.wabaId, displayPhoneNumber: DISPLAY },
      SUPER,
    );
    return answer.status === 201
      ? { status: 201 }
      : { status: answer.status, code: String(answer.body.code) };
  };
  /** A session, and the code Meta's popup would give for this WABA and number. */
  const openSignup = async (
    tenantId: string,
    signup: SignupIds,
  ): Promise<{ sessionId: string; code: string }> => {
    const session = await onboarding.start(tenantId, null);
    const response = await fetch(`${sandbox.url}/_sandbox/meta/oauth/codes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...signup, displayPhoneNumber: DISPLAY }),
    });
    const { code } = (await response.json()) as { code: string };
    return { sessionId: session.id, code };
  };
  const complete = async (
    tenantId: string,
    signup: SignupIds,
    opened?: { sessionId: string; code: string },
  ): Promise<Outcome> => {
    const { sessionId, code } = opened ?? (await openSignup(tenantId, signup));
    try {
      const connection: ConnectionView = await onboarding.complete(tenantId, sessionId, { code, ...signup });
      expect(connection.phoneNumberId).toBe(signup.phoneNumberId);
      return { status: 201 };
    } catch (error) {
      if (error instanceof WhatsAppApiError) return { status: error.status, code: error.code };
      throw error;
    }
  };
  const taken: Outcome = { status: 409, code: 'whatsapp_number_taken' };

  /** Every tenant holding the number: its super-admin mapping, and live connections. */
  const owners = async (phoneNumberId: string): Promise<string[]> => {
    const rows = (await api.dataSource.query(
      `SELECT tenant_id FROM auth.whatsapp_numbers WHERE phone_number_id = $1
       UNION
       SELECT tenant_id FROM whatsapp.connections WHERE phone_number_id = $1 AND status <> 'disconnected'`,
      [phoneNumberId],
    )) as Array<{ tenant_id: string }>;
    return rows.map((row) => row.tenant_id);
  };
  /** The tenants the gateway's routing table was told about, in order. */
  const mappedTenants = async (phoneNumberId: string): Promise<string[]> => {
    const rows = (await api.dataSource.query(
      `SELECT envelope->'data'->>'tenantId' AS tenant_id FROM messaging.outbox_log
        WHERE type = $1 AND envelope->'data'->>'phoneNumberId' = $2 ORDER BY seq`,
      [WhatsAppNumberMapped.type, phoneNumberId],
    )) as Array<{ tenant_id: string }>;
    return rows.map((row) => row.tenant_id);
  };
  const connectionsOf = async (
    signup: SignupIds,
  ): Promise<Array<{ tenant_id: string; token_ciphertext: string }>> =>
    (await api.dataSource.query(
      `SELECT tenant_id, token_ciphertext FROM whatsapp.connections WHERE waba_id = $1 OR phone_number_id = $2`,
      [signup.wabaId, signup.phoneNumberId],
    )) as Array<{ tenant_id: string; token_ciphertext: string }>;

  beforeAll(async () => {
    api = await startAuthApi({ DATABASE_POOL_SIZE: '20' });
    sandbox = await startTestSandbox();
    const options: WhatsAppModuleOptions = {
      meta: {
        appId: APP_ID,
        configId: '2000000000000002',
        appSecret: 'dev-meta-app-secret',
        appAccessToken: 'dev-meta-app-access-token',
        graphBaseUrl: sandbox.url,
        graphApiVersion: 'v26.0',
      },
      tokenEncryptionKeys: TokenCipher.generateKeyHex(),
      redisUrl: 'redis://127.0.0.1:6379',
      ai: {
        baseUrl: 'http://127.0.0.1:9',
        model: 'none',
        timeoutSeconds: 1,
        maxPerTenantPerDay: 0,
        maxPerSenderPerMinute: 0,
      },
    };
    graph = new GatedGraphClient({
      baseUrl: sandbox.url,
      apiVersion: options.meta.graphApiVersion,
      appId: APP_ID,
      appSecret: options.meta.appSecret,
      appAccessToken: options.meta.appAccessToken,
      timeoutMs: 5000,
      maxRetries: 0,
    });
    onboarding = new OnboardingService(
      api.dataSource,
      options,
      graph,
      new TokenVault(options.tokenEncryptionKeys),
      api.app.get(OutboxService),
    );
  });

  afterEach(() => {
    graph.beforeTransaction = null;
  });

  afterAll(async () => {
    await sandbox?.close();
    await api?.close();
  });

  it('refuses a signup completion for a number a super-admin mapped to another tenant (409), writing nothing', async () => {
    const [a, b] = [await aTenant(), await aTenant()];
    const signup = ids();
    expect(await mapNumber(a, signup)).toEqual({ status: 201 });

    const opened = await openSignup(b, signup);
    expect(await complete(b, signup, opened)).toEqual(taken);

    expect(await connectionsOf(signup)).toEqual([]);
    const [session] = (await api.dataSource.query(
      `SELECT status, connection_id, phone_number_id FROM whatsapp.onboarding_sessions WHERE id = $1`,
      [opened.sessionId],
    )) as unknown[];
    expect(session).toEqual({ status: 'pending', connection_id: null, phone_number_id: null });
    expect(await owners(signup.phoneNumberId)).toEqual([a]);
    expect(await mappedTenants(signup.phoneNumberId)).toEqual([a]);
    // Refused before the app was subscribed to the WABA on the tenant's behalf.
    const log = await fetch(`${sandbox.url}/_sandbox/requests?provider=meta&limit=100`);
    const { items } = (await log.json()) as { items: Array<{ method: string; path: string }> };
    expect(items.some((r) => r.method === 'GET' && r.path.endsWith(`/${signup.wabaId}/phone_numbers`))).toBe(
      true,
    );
    expect(items.some((r) => r.path.endsWith(`/${signup.wabaId}/subscribed_apps`))).toBe(false);

    // The tenant the number is mapped to connects it through its own signup.
    expect(await complete(a, signup)).toEqual({ status: 201 });
    expect(await owners(signup.phoneNumberId)).toEqual([a]);
    expect(await mappedTenants(signup.phoneNumberId)).toEqual([a, a]);
  });

  it('answers 409 to a super-admin mapping of a number another tenant connected through signup, mapping nothing', async () => {
    const [a, b] = [await aTenant(), await aTenant()];
    const signup = ids();
    expect(await complete(a, signup)).toEqual({ status: 201 });

    expect(await mapNumber(b, signup)).toEqual(taken);
    expect(await mapNumber(b, { ...signup, wabaId: '1' })).toEqual(taken);
    const mapped = (await api.dataSource.query(
      `SELECT 1 FROM auth.whatsapp_numbers WHERE phone_number_id = $1`,
      [signup.phoneNumberId],
    )) as unknown[];
    expect(mapped).toEqual([]);
    expect(await mappedTenants(signup.phoneNumberId)).toEqual([a]);

    // The same tenant may map its own number (idempotent with the signup), and again.
    expect(await mapNumber(a, signup)).toEqual({ status: 201 });
    expect(await mapNumber(a, signup)).toEqual({ status: 201 });
    expect(await owners(signup.phoneNumberId)).toEqual([a]);
    expect(await mappedTenants(signup.phoneNumberId)).toEqual([a, a]);
  });

  it('lets a disconnected connection give its number up', async () => {
    const [a, b] = [await aTenant(), await aTenant()];
    const signup = ids();
    expect(await complete(a, signup)).toEqual({ status: 201 });
    await api.dataSource.query(
      `UPDATE whatsapp.connections SET status = 'disconnected', disconnected_at = now() WHERE waba_id = $1`,
      [signup.wabaId],
    );
    expect(await mapNumber(b, signup)).toEqual({ status: 201 });
    expect(await owners(signup.phoneNumberId)).toEqual([b]);
    expect(await mappedTenants(signup.phoneNumberId)).toEqual([a, b]);
  });

  it('gives a number raced through both paths by two tenants to exactly one of them, round after round', async () => {
    const [a, b] = [await aTenant(), await aTenant()];
    for (let round = 0; round < 12; round += 1) {
      // Alternate which tenant takes which path.
      const [viaSuper, viaSignup] = round % 2 ? [a, b] : [b, a];
      const signup = ids();
      const opened = await openSignup(viaSignup, signup);

      // Hold the completion just before its transaction, fire the super-admin request, then let the
      // completion go a little later each round: the two transactions overlap at some point.
      let arrived!: () => void;
      const atGate = new Promise<void>((resolve) => (arrived = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      graph.beforeTransaction = () => {
        arrived();
        return gate;
      };
      const signing = complete(viaSignup, signup, opened);
      await atGate;
      const mapping = mapNumber(viaSuper, signup);
      await delay(round % 6);
      release();
      const [mapped, signed] = await Promise.all([mapping, signing]);

      const winners = [
        mapped.status === 201 ? viaSuper : null,
        signed.status === 201 ? viaSignup : null,
      ].filter((tenant) => tenant !== null);
      expect({ round, winners: winners.length }).toEqual({ round, winners: 1 });
      expect([mapped, signed]).toContainEqual(taken);
      expect(await owners(signup.phoneNumberId)).toEqual(winners);
      expect(await mappedTenants(signup.phoneNumberId)).toEqual(winners);
      if (signed.status !== 201) expect(await connectionsOf(signup)).toEqual([]);
    }
  });
});

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppError, decodeCursor, notFound, Page, toPage, Tx } from '@realapp/platform';
import { InviteService } from '../invites/invite.service';
import { iso, isoMicros } from '../shared/timestamps';
import { CreateTenantResponse, InviteResponse, TenantAdminView, TenantStatus } from '../shared/views';

interface TenantRow {
  id: string;
  name: string;
  status: TenantStatus;
  created_at: Date;
  position: string;
}

const COLUMNS = `id, name, status, created_at, ${isoMicros('created_at')} AS position`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const tenantNotFound = (): AppError => notFound('tenant');

/** Super-admin onboarding (SPEC §4): tenants created and listed by the platform operator. */
@Injectable()
export class TenantService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly invites: InviteService,
  ) {}

  async create(name: string, adminEmail: string | undefined): Promise<CreateTenantResponse> {
    return this.dataSource.transaction(async (tx) => {
      const [row] = (await tx.query(`INSERT INTO auth.tenants (name) VALUES ($1) RETURNING ${COLUMNS}`, [
        name,
      ])) as TenantRow[];
      const tenant = view(row);
      if (adminEmail === undefined) return { tenant };
      return { tenant, invite: await this.invites.create(tx, row.id, adminEmail, 'admin', null) };
    });
  }

  async list(limit: number, cursor: string | undefined): Promise<Page<TenantAdminView>> {
    const position = decodeCursor(cursor);
    const rows = (await this.dataSource.query(
      `SELECT ${COLUMNS} FROM auth.tenants
        WHERE $1::timestamptz IS NULL OR (created_at, id) < ($1::timestamptz, $2::uuid)
        ORDER BY created_at DESC, id DESC
        LIMIT $3`,
      [position?.at ?? null, position?.id ?? null, limit + 1],
    )) as TenantRow[];
    return toPage(rows, limit, (row) => ({ at: row.position, id: row.id }), view);
  }

  async inviteAdmin(tenantId: string, email: string): Promise<InviteResponse> {
    return this.dataSource.transaction(async (tx) => {
      await this.lockExisting(tx, tenantId);
      return this.invites.create(tx, tenantId, email, 'admin', null);
    });
  }

  /** Throws 404 unless the tenant exists; holds it (FOR SHARE) until the transaction ends. */
  async lockExisting(tx: Tx, tenantId: string): Promise<void> {
    if (!UUID.test(tenantId)) throw tenantNotFound();
    const rows = (await tx.query(`SELECT 1 FROM auth.tenants WHERE id = $1 FOR SHARE`, [
      tenantId,
    ])) as unknown[];
    if (!rows.length) throw tenantNotFound();
  }
}

function view(row: TenantRow): TenantAdminView {
  return { id: row.id, name: row.name, status: row.status, createdAt: iso(row.created_at) };
}

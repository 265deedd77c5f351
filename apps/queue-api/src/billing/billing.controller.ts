import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthContext, Authenticated, CurrentAuth } from '@realapp/auth-guard';
import { LedgerService } from '@realapp/ledger';
import { BillingConfigView, SubscriptionService } from '@realapp/payments';
import { Page, PageQueryDto } from '@realapp/platform';
import { BillingConfigDto, LedgerEntryDto, LedgerPageDto, WalletDto } from './billing.dto';

/** SPEC §5: billing configuration, the wallet and its ledger. */
@ApiTags('billing')
@Controller('v1/billing')
@Authenticated()
export class BillingController {
  constructor(
    private readonly ledger: LedgerService,
    private readonly subscriptions: SubscriptionService,
  ) {}

  @Get('config')
  @ApiOperation({ summary: 'Currency, top-up limits and the plans' })
  @ApiOkResponse({ type: BillingConfigDto })
  config(): BillingConfigView {
    return this.subscriptions.billingConfig();
  }

  @Get('wallet')
  @ApiOperation({ summary: 'Balance, held and available amounts (zeros before the first top-up)' })
  @ApiOkResponse({ type: WalletDto })
  async wallet(@CurrentAuth() auth: AuthContext): Promise<WalletDto> {
    const wallet = await this.ledger.getWallet(auth.tenantId);
    return {
      balanceCents: wallet.balanceCents,
      heldCents: wallet.heldCents,
      availableCents: wallet.availableCents,
      currency: wallet.currency,
      updatedAt: wallet.updatedAt?.toISOString() ?? null,
    };
  }

  @Get('ledger')
  @ApiOperation({ summary: 'Ledger entries, newest first' })
  @ApiOkResponse({ type: LedgerPageDto })
  ledgerEntries(
    @CurrentAuth() auth: AuthContext,
    @Query() page: PageQueryDto,
  ): Promise<Page<LedgerEntryDto>> {
    return this.ledger.listEntries(auth.tenantId, page.limit, page.cursor);
  }
}

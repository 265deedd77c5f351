import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { AuthContext, Authenticated, CurrentAuth } from '@realapp/auth-guard';
import { OrdersError, OrdersService, OrderView, UserAction } from '@realapp/orders';
import { Idempotent, Page, PageQueryDto } from '@realapp/platform';
import { CreateOrderDto } from './create-order.dto';
import { OrderPageDto, OrderViewDto } from './order-view.dto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A malformed id cannot name an order of this tenant: 404 like any other id that is not theirs. */
function orderId(id: string): string {
  if (!UUID.test(id)) throw OrdersError.notFound();
  return id.toLowerCase();
}

/** SPEC §6: the tenant's ads orders and the customer's pause, resume and stop. */
@ApiTags('ads')
@Authenticated()
@Controller('v1/ads/orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @Idempotent()
  @HttpCode(201)
  @ApiCreatedResponse({
    type: OrderViewDto,
    description: '`queued` (budget held) or `waiting_payment` with its waitingReason',
  })
  create(@CurrentAuth() auth: AuthContext, @Body() body: CreateOrderDto): Promise<OrderView> {
    return this.orders.create(auth.tenantId, body);
  }

  @Get()
  @ApiOkResponse({ type: OrderPageDto })
  list(@CurrentAuth() auth: AuthContext, @Query() query: PageQueryDto): Promise<Page<OrderView>> {
    return this.orders.list(auth.tenantId, query.limit, query.cursor);
  }

  @Get(':id')
  @ApiOkResponse({ type: OrderViewDto })
  @ApiNotFoundResponse({ description: 'not_found (also for another tenant’s order)' })
  get(@CurrentAuth() auth: AuthContext, @Param('id') id: string): Promise<OrderView> {
    return this.orders.get(auth.tenantId, orderId(id));
  }

  @Post(':id/pause')
  @HttpCode(202)
  @ApiAcceptedResponse({
    type: OrderViewDto,
    description: 'paused now; the worker pauses the campaign at Meta',
  })
  @ApiConflictResponse({ description: 'invalid_transition' })
  @ApiNotFoundResponse({ description: 'not_found' })
  pause(@CurrentAuth() auth: AuthContext, @Param('id') id: string): Promise<OrderView> {
    return this.act(auth, id, 'pause');
  }

  @Post(':id/resume')
  @HttpCode(202)
  @ApiAcceptedResponse({
    type: OrderViewDto,
    description: 'active now; the worker resumes the campaign at Meta',
  })
  @ApiConflictResponse({ description: 'invalid_transition' })
  @ApiNotFoundResponse({ description: 'not_found' })
  resume(@CurrentAuth() auth: AuthContext, @Param('id') id: string): Promise<OrderView> {
    return this.act(auth, id, 'resume');
  }

  @Post(':id/stop')
  @HttpCode(202)
  @ApiAcceptedResponse({
    type: OrderViewDto,
    description:
      'stopped now (terminal); the worker archives the campaign at Meta and releases the unspent hold',
  })
  @ApiConflictResponse({ description: 'invalid_transition' })
  @ApiNotFoundResponse({ description: 'not_found' })
  stop(@CurrentAuth() auth: AuthContext, @Param('id') id: string): Promise<OrderView> {
    return this.act(auth, id, 'stop');
  }

  private act(auth: AuthContext, id: string, action: UserAction): Promise<OrderView> {
    return this.orders.requestAction(auth.tenantId, orderId(id), action);
  }
}

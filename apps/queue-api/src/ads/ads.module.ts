import { Module } from '@nestjs/common';
import { OrdersModule } from '@realapp/orders';
import { OrdersController } from './orders.controller';

/** queue-api's ads orders API (SPEC §6). */
@Module({
  imports: [OrdersModule],
  controllers: [OrdersController],
})
export class AdsModule {}

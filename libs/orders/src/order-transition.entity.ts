import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { OrderStatus } from './order-state';

/** ads.order_transitions: append-only (a trigger refuses UPDATE and DELETE). */
@Entity({ schema: 'ads', name: 'order_transitions' })
export class OrderTransitionEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id: string;

  @Column('uuid', { name: 'order_id' })
  orderId: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId: string;

  @Column('text', { name: 'from_status', nullable: true })
  fromStatus: OrderStatus | null;

  @Column('text', { name: 'to_status' })
  toStatus: OrderStatus;

  @Column('text')
  reason: string;

  @Column('timestamptz')
  at: Date;
}

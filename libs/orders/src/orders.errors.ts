import { AppError } from '@realapp/platform';
import { InvalidTransitionError } from './order-state';

export type OrdersErrorCode = 'invalid_transition' | 'not_found';

const STATUS: Readonly<Record<OrdersErrorCode, number>> = Object.freeze({
  invalid_transition: 409,
  not_found: 404,
});

/** The one error class of the orders lib; the problem filter renders it like any AppError. */
export class OrdersError extends AppError {
  constructor(
    override readonly code: OrdersErrorCode,
    detail: string,
    extra: Record<string, unknown> = {},
  ) {
    super(code, STATUS[code], detail, extra);
    this.name = 'OrdersError';
  }

  static notFound(): OrdersError {
    return new OrdersError('not_found', 'The order does not exist.');
  }

  static fromTransition(error: InvalidTransitionError): OrdersError {
    return new OrdersError('invalid_transition', `${error.message}.`, {
      orderStatus: error.from,
      action: error.event,
    });
  }
}

import * as payments from './index';

describe('@realapp/payments public door', () => {
  it('exposes the clients, verifiers, signers, money helpers and state machines', () => {
    expect(typeof payments.MercadoPagoClient).toBe('function');
    expect(typeof payments.StripeGateway).toBe('function');
    expect(typeof payments.PaymentsError).toBe('function');
    for (const fn of [
      payments.verifyMercadoPagoSignature,
      payments.verifyStripeSignature,
      payments.verifyMetaSignature,
      payments.signMercadoPago,
      payments.signStripe,
      payments.signMeta,
      payments.toCents,
      payments.fromCents,
      payments.mapMercadoPagoPaymentStatus,
      payments.mapMercadoPagoPreapprovalStatus,
      payments.mapStripeCheckoutSessionStatus,
      payments.mapStripeEvent,
    ]) {
      expect(typeof fn).toBe('function');
    }
  });

  it('namespaces the two state machines so their canTransition/transition do not collide', () => {
    expect(payments.TopupState.canTransition('pending', 'approved')).toBe(true);
    expect(payments.SubscriptionState.canTransition('pending', 'active')).toBe(true);
    expect(() => payments.TopupState.transition('refunded', 'approved')).toThrow(payments.PaymentsError);
  });

  it('signs what it verifies, end to end through the public names', () => {
    const rawBody = Buffer.from('{"ok":true}');
    const nowMs = 1_795_000_000_000;
    const header = payments.signStripe({ secret: 's', rawBody, timestamp: nowMs / 1000 });
    expect(payments.verifyStripeSignature({ header, rawBody, secrets: ['s'], nowMs }).ok).toBe(true);
  });
});

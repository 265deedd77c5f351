import type { FastifyInstance } from 'fastify';
import { RouteResult, bodyOf, handler, html, queryOf, redirect, routeParams } from './http';
import { MercadoPagoSandbox } from './mercadopago.routes';
import { StripeSandbox } from './stripe.routes';
import { escapeHtml, isRecord, readNonEmptyString, readString } from './util';

/**
 * The pages behind the links the sandbox hands out (Stripe's `url`, Mercado Pago's `ticket_url`
 * and `init_point`), so a demo can click through a payment. Each button does what the buyer
 * would, then sends the signed notification.
 */

function page(title: string, content: string): RouteResult {
  return html(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · provider sandbox</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#222}
.box{border:1px solid #ddd;border-radius:.5rem;padding:1rem;margin:1rem 0}button{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}
textarea{width:100%;font-family:monospace;font-size:.8rem}.muted{color:#777;font-size:.85rem}</style></head>
<body><p class="muted">Provider sandbox — nothing here moves real money.</p><h1>${escapeHtml(title)}</h1>${content}</body></html>`);
}

function notFound(what: string): RouteResult {
  return { ...page('Not found', `<p>${escapeHtml(what)} does not exist in this sandbox.</p>`), status: 404 };
}

function money(cents: number, currency: string): string {
  return `${currency.toUpperCase()} ${(cents / 100).toFixed(2)}`;
}

function withQuery(url: string, extra: Record<string, string>): string {
  try {
    const parsed = new URL(url);
    for (const [key, value] of Object.entries(extra)) parsed.searchParams.set(key, value);
    return parsed.toString();
  } catch {
    return url;
  }
}

export function registerPageRoutes(
  app: FastifyInstance,
  mercadoPago: MercadoPagoSandbox,
  stripe: StripeSandbox,
): void {
  // ---- Stripe hosted checkout ----------------------------------------------------------------

  app.get(
    '/checkout/:id',
    handler((request) => {
      const id = routeParams(request)['id'];
      const session = stripe.describeSession(id);
      if (session === undefined) return notFound(`Checkout session ${id}`);
      const items = session.items
        .map(
          (item) =>
            `<li>${escapeHtml(item.name)} × ${item.quantity}: ${money(item.unitAmount, item.currency)}</li>`,
        )
        .join('');
      const urls = stripe.getSessionUrls(id);
      const cancel =
        urls?.cancelUrl == null ? '' : ` <a href="${escapeHtml(urls.cancelUrl)}">Cancel and go back</a>`;
      const action =
        session.status === 'open'
          ? `<form method="post" action="/checkout/${escapeHtml(id)}/pay"><button type="submit">Pay ${money(session.amountTotal, session.currency)}</button>${cancel}</form>`
          : `<p>This session is <strong>${session.status}</strong>.</p>`;
      return page('Stripe Checkout', `<div class="box"><ul>${items}</ul>${action}</div>`);
    }),
  );

  app.post(
    '/checkout/:id/pay',
    handler(async (request) => {
      const id = routeParams(request)['id'];
      const outcome = await stripe.complete(id, 'paid', { notify: true });
      if (!outcome.ok)
        return { ...page('Payment failed', `<p>${escapeHtml(outcome.message)}</p>`), status: outcome.status };
      const successUrl = stripe.getSessionUrls(id)?.successUrl;
      // Stripe fills in the template variable on redirect.
      if (successUrl != null) return redirect(successUrl.replace('{CHECKOUT_SESSION_ID}', id));
      return page(
        'Paid',
        `<p>Payment received. Webhook answered ${outcome.value.notified?.status ?? 'n/a'}.</p>`,
      );
    }),
  );

  // ---- Mercado Pago PIX ticket -----------------------------------------------------------------

  app.get(
    '/payments/:id/ticket',
    handler((request) => {
      const id = routeParams(request)['id'];
      const payment = mercadoPago.getPaymentView(id);
      if (payment === undefined) return notFound(`Payment ${id}`);
      const poi = isRecord(payment['point_of_interaction']) ? payment['point_of_interaction'] : {};
      const data = isRecord(poi['transaction_data']) ? poi['transaction_data'] : {};
      const qrCode = readString(data, 'qr_code') ?? '';
      const qrBase64 = readString(data, 'qr_code_base64') ?? '';
      const amount = Number(payment['transaction_amount']);
      const status = String(payment['status']);
      const action =
        status === 'pending'
          ? `<form method="post" action="/payments/${escapeHtml(id)}/ticket/pay"><button type="submit">Simulate paying R$ ${amount.toFixed(2)}</button></form>`
          : `<p>This payment is <strong>${escapeHtml(status)}</strong>.</p>`;
      return page(
        'Pague com PIX',
        `<div class="box"><img alt="QR code" width="132" height="132" src="data:image/png;base64,${qrBase64}">
<p>PIX copia e cola:</p><textarea rows="4" readonly>${escapeHtml(qrCode)}</textarea>${action}</div>`,
      );
    }),
  );

  app.post(
    '/payments/:id/ticket/pay',
    handler(async (request) => {
      const id = routeParams(request)['id'];
      const changed = mercadoPago.setPaymentStatus(id, { status: 'approved' });
      if (!changed.ok) return notFound(`Payment ${id}`);
      const notified = await mercadoPago.notifyPayment(id, { fresh: true });
      const status = notified.ok ? notified.value.status : 'n/a';
      return page(
        'Pagamento aprovado',
        `<p>Payment ${escapeHtml(id)} approved. Webhook answered ${status}.</p>`,
      );
    }),
  );

  // ---- Mercado Pago subscription checkout ------------------------------------------------------

  app.get(
    '/subscriptions/checkout',
    handler((request) => {
      const q = queryOf(request);
      const preapprovalId = readNonEmptyString(q, 'preapproval_id');
      const planId = readNonEmptyString(q, 'preapproval_plan_id');
      if (preapprovalId !== undefined) {
        const preapproval = mercadoPago.getPreapprovalView(preapprovalId);
        if (preapproval === undefined) return notFound(`Pre-approval ${preapprovalId}`);
        const recurring = isRecord(preapproval['auto_recurring']) ? preapproval['auto_recurring'] : {};
        const status = String(preapproval['status']);
        const action =
          status === 'pending' || status === 'paused'
            ? `<form method="post" action="/subscriptions/checkout"><input type="hidden" name="preapproval_id" value="${escapeHtml(preapprovalId)}"><button type="submit">Authorize subscription</button></form>`
            : `<p>This subscription is <strong>${escapeHtml(status)}</strong>.</p>`;
        return page(
          'Assinatura',
          `<div class="box"><p>${escapeHtml(String(preapproval['reason']))}</p><p>R$ ${Number(recurring['transaction_amount']).toFixed(2)} every ${escapeHtml(String(recurring['frequency']))} ${escapeHtml(String(recurring['frequency_type']))}</p>${action}</div>`,
        );
      }
      if (planId !== undefined) {
        const plan = mercadoPago.getPlanView(planId);
        if (plan === undefined) return notFound(`Plan ${planId}`);
        return page(
          'Assinatura',
          `<div class="box"><p>${escapeHtml(String(plan['reason']))}</p><form method="post" action="/subscriptions/checkout"><input type="hidden" name="preapproval_plan_id" value="${escapeHtml(planId)}"><label>E-mail <input type="email" name="payer_email" value="buyer@example.com"></label> <button type="submit">Subscribe</button></form></div>`,
        );
      }
      return notFound('A subscription without preapproval_id');
    }),
  );

  app.post(
    '/subscriptions/checkout',
    handler(async (request) => {
      const form = bodyOf(request);
      const planId = readNonEmptyString(form, 'preapproval_plan_id');
      let preapprovalId = readNonEmptyString(form, 'preapproval_id');
      let action = 'updated';
      if (preapprovalId === undefined && planId !== undefined) {
        const created = mercadoPago.subscribeToPlan(
          planId,
          readNonEmptyString(form, 'payer_email') ?? 'buyer@example.com',
        );
        if (!created.ok) return notFound(`Plan ${planId}`);
        preapprovalId = String(created.value['id']);
        action = 'created';
      } else if (preapprovalId !== undefined) {
        const changed = mercadoPago.setPreapprovalStatus(preapprovalId, 'authorized');
        if (!changed.ok) return notFound(`Pre-approval ${preapprovalId}`);
      } else {
        return notFound('A subscription without preapproval_id');
      }
      await mercadoPago.notifyPreapproval(preapprovalId, { fresh: true, action });
      const backUrl = readString(mercadoPago.getPreapprovalView(preapprovalId) ?? {}, 'back_url');
      // Mercado Pago sends the buyer back with the pre-approval id in the query string.
      if (backUrl !== undefined) return redirect(withQuery(backUrl, { preapproval_id: preapprovalId }));
      return page('Assinatura autorizada', `<p>Subscription ${escapeHtml(preapprovalId)} authorized.</p>`);
    }),
  );
}

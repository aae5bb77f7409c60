"""A local Stripe-compatible server for dev and tests: localstripe plus what it lacks.

There is no internet here, so the official `stripe` SDK is pointed at this server on 127.0.0.1
(`stripe.StripeClient(key, base_addresses={"api": server.url})`). It is localstripe's aiohttp `app`
with extra routes and middlewares registered on it, speaking Stripe's wire format (ids, object
shapes, list objects, error bodies and HTTP statuses), so code using the SDK cannot tell.

Run it:      python -m standins.stripe_server --port 8420 [--webhook-url URL --webhook-secret whsec_...]
Or import:   server = start_local_stripe(); server.url; server.register_webhook(url, secret);
             server.unregister_webhook(url); server.reset(); server.advance_clock(seconds); server.stop()
             (tests: the fixtures in tests/stripe_fixtures.py; its own tests: standins/tests/test_stripe_server.py)
It binds 127.0.0.1 only and keeps all state in memory (localstripe's /tmp/localstripe.pickle is
never read or written), so a dev server and a test server never share or clobber state. All of
localstripe's state is process-global: one server per process.

What this adds to localstripe
- Checkout Sessions (mode=payment, and mode=subscription: see Subscriptions below): create / retrieve / list / expire / line_items, and the
  hosted page at `session.url` (`/c/pay/{id}`): email + card number (expiry and CVC are accepted
  and ignored), "Pay", "Cancel and go back". Test cards:
    4242424242424242 and any other Luhn-valid 16-digit number -> authorised (or captured);
    4000002500003155, 4000002760003184 (and localstripe's other 3DS cards) -> a challenge page with
      "Complete authentication" / "Fail authentication";
    4000000000000002, 4000000000000341 -> "Your card was declined."; 4000000000009995 -> "Your card
      has insufficient funds."; 9987/9979 (lost/stolen), 0069 (expired), 0127 (CVC), 0119
      (processing error) likewise, the session staying open.
  The PaymentIntent is created when the customer first submits (`payment_intent` is null until
  then) with `payment_intent_data`'s capture_method, metadata, transfer_group and description.
  `expires_at` must be 30 minutes to 24 hours ahead (400 otherwise); expiry is also applied by a
  background sweep and on every access, and sends `checkout.session.expired`.
  `payment_status` is "unpaid" for a session whose payment was only authorised (manual capture) and
  stays as it was at completion: read the PaymentIntent's status (`requires_capture`,
  `succeeded`) rather than the session's payment_status to move money states.
- Subscriptions (`subscriptions.py`, API shape since 2025-03-31.basil: billing periods on
  `items.data[0].current_period_start/end`, an invoice's subscription at
  `parent.subscription_details.{subscription,metadata}`). Paying a mode=subscription session (one line item,
  price_data with recurring[interval]=month and product_data, subscription_data[metadata]) creates a
  Customer (unless `customer` was given), an active Subscription and its first Invoice, paid
  (billing_reason subscription_create), and sends customer.subscription.created, invoice.paid and
  checkout.session.completed (session.subscription, session.invoice, session.customer set); declined
  cards stay on the page. Time does not pass by itself: `server.advance_subscription(id, renewal=
  "paid"|"declined")`, `POST /v1/test_helpers/local/subscriptions/{id}/advance` (stand-in only, with
  the API key) or the dev page `/_local/subscriptions` end the current period now: a subscription set
  to cancel at period end becomes canceled (customer.subscription.deleted, no invoice); any other renews
  with a subscription_cycle invoice (pending prorations first, the customer's credit applied), paid
  (invoice.paid) or, with renewal="declined" (the saved card now declines), left open with
  attempt_count 1 and the subscription past_due (invoice.payment_failed); both send
  customer.subscription.updated with previous_attributes. `invoices.pay` retries an open invoice (402
  while the card declines; paid_out_of_band=true marks it paid), bringing a past_due subscription back
  to active. `subscriptions.update`: cancel_at_period_end true/false, metadata, and a price change
  `items[0][id]` + `items[0][price_data][currency|unit_amount|product|recurring[interval]]` with
  proration_behavior create_prorations (lines billed at the next renewal), always_invoice (a
  subscription_update invoice now; a net credit goes to the customer's balance) or none.
  `subscriptions.cancel` ends one at once. An invoice is collected by a PaymentIntent on the subscription's
  `default_payment_method` (a real charge: it funds the balance and can be refunded), listed by
  `GET /v1/invoice_payments?invoice=in_...` (`payment.payment_intent`); a failed attempt sets the invoice's
  `last_payment_error`. `subscriptions.update(default_payment_method=pm_...)` takes a card attached to the
  subscription's customer (and clears the "card now declines" knob of `advance`).
- Checkout mode=setup (`customer`, `payment_method_types=[card]` or `currency`, `setup_intent_data[metadata]`,
  success/cancel URLs; no line items): the hosted page "Save card" attaches the card to the customer and completes
  the session with a succeeded SetupIntent (`session.setup_intent`; setup_intent.succeeded and
  checkout.session.completed). Decline cards are refused there, except 4000000000000341, which saves and then
  declines when an invoice is charged to it (as Stripe's does). retrieve/list (customer, status) for subscriptions and
  invoices (customer, subscription, status). These replace localstripe's own /v1/subscriptions and
  /v1/invoices routes (`own_route` in plumbing.py).
- Connect: accounts (`type=express|custom|standard`, country, email, capabilities, metadata,
  business_type, business_profile, default_currency), retrieve / update / list; account links
  (`account_onboarding`, `account_update`) whose URL (`/connect/setup/{token}`) serves an onboarding
  page: "Complete onboarding" (a bare form POST is enough) turns details_submitted, charges_enabled,
  payouts_enabled on and every requested capability "active", sends `account.updated` and 303s to
  return_url; an expired (5 minutes) or used link redirects to refresh_url, like Stripe's.
- Transfers: create (amount, currency, destination, transfer_group, source_transaction, metadata,
  description), retrieve, update (metadata, description), list (destination, transfer_group),
  reversals create / list / retrieve. The destination must exist and have `transfers` active
  (400 insufficient_capabilities_for_transfer). With `source_transaction` the charge must be
  captured, in the same currency and have enough left; without it the platform's balance must cover
  the amount (400 balance_insufficient). The balance is captured charges minus refunds minus
  transfers plus reversals, all treated as available at once (in real Stripe, card funds are
  pending for days, so transfer_group-only transfers can fail there: prefer source_transaction).
  `GET /v1/balance` reports that balance.
- Idempotency-Key on every `POST /v1/...`: the same key with the same parameters replays the first
  response (`Idempotent-Replayed: true`); with other parameters or another endpoint it is a 400
  `idempotency_error`; a concurrent duplicate is a 409. As in Stripe, results are kept only once an
  endpoint ran: 2xx, 402 and 5xx are saved, other 4xx (validation, not found) are not.
- Events localstripe never sends: checkout.session.completed / expired, payment_intent.created and
  payment_intent.payment_failed (hosted page), payment_intent.amount_capturable_updated (any PI
  reaching requires_capture), payment_intent.canceled, charge.refunded (full and partial refunds),
  account.updated (with previous_attributes), transfer.created / reversed / updated, and for a refund that fails
  after it was accepted charge.refund.updated, refund.updated and refund.failed (`refunds.py`: Stripe's
  refund-fail test card 4000000000005126 fails its refunds 10 s later by this server's clock; any refund fails
  at once with `POST /v1/test_helpers/local/refunds/{id}/fail` [status=failed|canceled, failure_reason] or
  `server.fail_refund(id)`; the charge's amount_refunded leaves failed and canceled refunds out). Every event,
  localstripe's own included, carries id evt_..., object, type, created, data.object, api_version
  (API_VERSION below), livemode false, pending_webhooks and request {id, idempotency_key}; it is
  listed newest first at GET /v1/events (filters type, types, created; GET /v1/events/{id} too)
  and delivered about 0.1 s after the response to every registered webhook, signed as Stripe signs
  (`Stripe-Signature: t=...,v1=HMAC-SHA256(secret, "t.payload")`, so `stripe.Webhook.construct_event`
  verifies it), retried a few times if the endpoint fails.
- Fidelity fixes: error bodies get Stripe's `type`/`code`/`param`/`doc_url` (404s become
  resource_missing "No such payment_intent: 'pi_...'", 402s are card_error, unknown URLs are
  "Unrecognized request URL"); refunds beyond what is left are refused (400 amount_too_large,
  charge_already_refunded) where localstripe accepted them, and a refund without `amount` refunds
  what is left (localstripe refunded the whole charge again); PaymentIntents and charges gain
  `transfer_group`, PaymentIntents `amount_capturable` and `amount_received` (the captured amount,
  partial captures included), every response a `Request-Id` header.

What the app may send (anything else is rejected with 400 parameter_unknown, or 404 for an
unimplemented endpoint, so a gap shows up loudly in dev rather than in production)
- checkout.sessions.create: mode=payment, line_items[n][price_data][currency|unit_amount|
  product_data][name|description]] and [quantity] (no Price ids), success_url (may contain
  {CHECKOUT_SESSION_ID}), cancel_url, expires_at, metadata, client_reference_id, customer_email or
  customer, payment_method_types=[card], locale, payment_intent_data[capture_method|metadata|
  transfer_group|description]. retrieve/list take expand (payment_intent, line_items).
- payment_intents (localstripe): capture (amount_to_capture), cancel (no cancellation_reason),
  retrieve, update (metadata, description, transfer_group). Creating one directly rejects
  description, receipt_email, transfer_group, transfer_data, application_fee_amount,
  automatic_payment_methods; `confirm(payment_method=...)` is not implemented (update, then
  confirm); `latest_charge` comes back expanded.
- refunds.create (localstripe): payment_intent or charge, amount, metadata; not `reason`.
- accounts, account_links, transfers and reversals: the parameters listed above.
- Not implemented: Price and Product objects by id (use price_data), destination charges (transfer_data,
  application_fee_amount, on_behalf_of), webhook_endpoints API, Stripe-Account header requests.
"""

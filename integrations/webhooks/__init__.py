"""Outbound webhooks (issue #10): subscriptions to Loopwise events, signed deliveries through the outbox.

- `events.py`: `webhook_emit` (one WebhookDelivery and one OutboxItem per matching subscription) and the small
  `emit_*` helpers the services call, one line each, inside their own transaction (so a rolled-back booking
  sends nothing, and the outbox sends only after commit).
- `delivery.py`: the outbox handler (vet the target again, sign, POST, record) and `webhook_redeliver`.
- `security.py`: which URLs may be called, and the signature scheme with `verify_signature` for receivers.
- `api.py`: the subscriptions' DRF viewset; the admin lives in `integrations/admin.py`.
"""

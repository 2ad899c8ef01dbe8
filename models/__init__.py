"""Tortoise models and the domain operations that own them.

Modules: ``teams`` (teams, users, membership, API keys), ``jobs`` (the creative_job state machine),
``credits`` (the ledger; the only code that writes credit rows), ``drive`` (folders and files),
``events`` (the team event outbox), ``webhooks`` (endpoints and deliveries), ``creatives`` (graphs of
jobs submitted at once), ``spend_caps`` (per member and per API key, per day and month),
``billing`` (billing contacts and the low-balance emails' outbox).
"""

MODEL_MODULES = [
    "models.teams",
    "models.jobs",
    "models.credits",
    "models.drive",
    "models.events",
    "models.webhooks",
    "models.batches",
    "models.creatives",
    "models.spend_caps",
    "models.billing",
]

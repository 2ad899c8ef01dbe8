"""Tortoise models and the domain operations that own them.

Modules: ``teams`` (teams, users, membership, API keys), ``jobs`` (the creative_job state machine),
``credits`` (the ledger; the only code that writes credit rows), ``drive`` (folders and files).
"""

MODEL_MODULES = ["models.teams", "models.jobs", "models.credits", "models.drive", "models.events"]

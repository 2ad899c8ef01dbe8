import functools
from json import dumps, loads
from uuid import uuid4

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import CheckConstraint
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state_apps import StateApps

# Signed (balance, available) change per unit of amount, for rows written before the delta columns.
_BACKFILL = {"TOP_UP": (1, 1), "HOLD": (0, -1), "CAPTURE": (-1, 0), "RELEASE": (0, 1), "REFUND": (1, 1)}

_TRIGGERS = {
    "sqlite": [
        """CREATE TRIGGER credit_transaction_no_update BEFORE UPDATE ON credit_transaction
           BEGIN SELECT RAISE(ABORT, 'credit_transaction rows are immutable'); END""",
        """CREATE TRIGGER credit_transaction_no_delete BEFORE DELETE ON credit_transaction
           BEGIN SELECT RAISE(ABORT, 'credit_transaction rows are immutable'); END""",
    ],
    "postgres": [
        """CREATE OR REPLACE FUNCTION credit_transaction_immutable() RETURNS trigger AS $$
           BEGIN RAISE EXCEPTION 'credit_transaction rows are immutable'; END; $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER credit_transaction_no_update BEFORE UPDATE OR DELETE ON credit_transaction
           FOR EACH ROW EXECUTE FUNCTION credit_transaction_immutable()""",
    ],
}


async def backfill_and_freeze(apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    """Backfill the delta columns, then make ledger rows immutable with a trigger."""
    client = schema_editor.client
    for kind, (balance, available) in _BACKFILL.items():
        await client.execute_script(
            f"UPDATE credit_transaction SET balance_delta_cents = {balance} * amount_cents, "
            f"available_delta_cents = {available} * amount_cents WHERE kind = '{kind}'"
        )
    dialect = "sqlite" if schema_editor.DIALECT == "sqlite" else "postgres"
    for statement in _TRIGGERS[dialect]:
        await client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    initial = False

    operations = [
        ops.CreateModel(
            name="TeamEvent",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                (
                    "team",
                    fields.ForeignKeyField(
                        "models.Team",
                        source_field="team_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="events",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("kind", fields.CharField(max_length=64)),
                (
                    "payload",
                    fields.JSONField(
                        default=dict, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("published_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "team_event",
                "app": "models",
                "indexes": [Index(fields=["team_id", "published_at"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="CreativeJob",
            name="overrun_cents",
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name="CreativeJob",
            name="submit_claimed_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="CreditTransaction",
            name="available_delta_cents",
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name="CreditTransaction",
            name="balance_delta_cents",
            field=fields.BigIntField(default=0),
        ),
        ops.AddConstraint(
            model_name="CreditTransaction",
            constraint=CheckConstraint(check="amount_cents >= 0", name="credit_amount_not_negative"),
        ),
        ops.AddField(
            model_name="Team",
            name="low_balance_alerted",
            field=fields.BooleanField(default=False),
        ),
        ops.AddConstraint(
            model_name="Team",
            constraint=CheckConstraint(check="available_cents >= 0", name="team_available_not_negative"),
        ),
        ops.AddConstraint(
            model_name="Team",
            constraint=CheckConstraint(
                check="available_cents <= balance_cents", name="team_available_within_balance"
            ),
        ),
        ops.RunPython(backfill_and_freeze),
    ]

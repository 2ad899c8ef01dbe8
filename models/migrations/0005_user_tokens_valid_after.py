from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0004_delivery_event_index")]

    initial = False

    operations = [
        ops.AddField(
            model_name="User",
            name="tokens_valid_after",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]

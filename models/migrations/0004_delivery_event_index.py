from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0003_webhooks")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="WebhookDelivery",
            index=Index(fields=["event_id"]),
        ),
    ]

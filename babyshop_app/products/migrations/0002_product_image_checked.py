import babyshop.images
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("products", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="product",
            name="image",
            field=babyshop.images.ImageField(blank=True, upload_to="products/"),
        ),
    ]

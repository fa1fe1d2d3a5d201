"""Load a demo catalog: idempotent, so it is safe to run on every start.

Categories and products are matched by slug: existing rows are left as they
are (an admin's edits survive), missing ones are created, and a product gets
its generated picture only if it has none.
"""

import hashlib
from decimal import Decimal
from io import BytesIO

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from PIL import Image, ImageDraw

from products.models import Category, Product

CATALOG = {
    "Clothing": [
        ("Organic Cotton Bodysuit", "9.90"),
        ("Knitted Cardigan", "24.50"),
        ("Sleepsuit with Mittens", "14.00"),
        ("Sun Hat", "11.90"),
        ("Wool Booties", "16.00"),
        ("Rain Jacket", "32.00"),
    ],
    "Toys": [
        ("Wooden Stacking Rings", "18.00"),
        ("Soft Rattle Elephant", "8.50"),
        ("Activity Cube", "39.90"),
        ("Bath Ducks (set of 3)", "6.90"),
        ("Plush Bunny", "15.00"),
        ("Shape Sorter", "21.00"),
    ],
    "Feeding": [
        ("Silicone Bib", "7.50"),
        ("Bamboo Plate Set", "19.90"),
        ("Sippy Cup", "8.90"),
        ("High Chair Cushion", "27.00"),
        ("Bottle Warmer", "34.90"),
        ("Weaning Spoons", "5.50"),
    ],
    "Nursery": [
        ("Muslin Swaddle Blankets", "22.00"),
        ("Night Light Moon", "29.00"),
        ("Changing Mat", "26.50"),
        ("Cot Mobile", "44.00"),
        ("Storage Baskets", "31.00"),
        ("Baby Monitor", "89.00"),
    ],
}

# Items of each product on hand.
STOCK = 20
PALETTE = ["#f6c1c7", "#bde0fe", "#cdeac0", "#ffe5a5", "#d7c4f0", "#ffd3b4"]


def _slug(text):
    cleaned = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in cleaned.split("-") if part)


def product_picture(name):
    """A 600x600 PNG: a pastel background chosen from the name, and its initials."""
    digest = hashlib.sha256(name.encode()).digest()
    image = Image.new("RGB", (600, 600), PALETTE[digest[0] % len(PALETTE)])
    draw = ImageDraw.Draw(image)
    draw.ellipse((150, 150, 450, 450), fill="#ffffff")
    initials = "".join(word[0] for word in name.split() if word[0].isalpha())[:2].upper()
    draw.text((300, 300), initials, fill="#555555", anchor="mm", font_size=120)
    buffer = BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Create the demo catalog (4 categories, 24 products with pictures); idempotent."

    @transaction.atomic
    def handle(self, *args, **options):
        created = 0
        for category_name, products in CATALOG.items():
            category, _ = Category.objects.get_or_create(
                slug=_slug(category_name), defaults={"name": category_name}
            )
            for name, price in products:
                product, was_created = Product.objects.get_or_create(
                    slug=_slug(name),
                    defaults={
                        "name": name,
                        "category": category,
                        "price": Decimal(price),
                        "stock": STOCK,
                        "description": f"{name}: a demo product from the {category_name.lower()} range.",
                    },
                )
                created += was_created
                # Also when its file is gone: a new media volume, or a switch to
                # MEDIA_STORAGE=s3 with an empty bucket.
                if not product.image or not product.image.storage.exists(product.image.name):
                    product.image.save(f"{product.slug}.png", ContentFile(product_picture(name)))
        total = Product.objects.count()
        self.stdout.write(f"seed_demo: {created} products created, {total} in the catalog")

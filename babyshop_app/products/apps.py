from django.apps import AppConfig
from django.db import transaction
from django.db.models.signals import post_delete, post_migrate, post_save

from babyshop import pagecache


class ProductsConfig(AppConfig):
    name = "products"
    verbose_name = "catalog"

    def ready(self):
        # Every page shows the category menu, so any catalog change makes
        # every cached page stale; so may a migration or a restored database.
        for model in (self.get_model("Category"), self.get_model("Product")):
            post_save.connect(catalog_changed, sender=model)
            post_delete.connect(catalog_changed, sender=model)
        post_migrate.connect(catalog_changed, sender=self)


def catalog_changed(using, **kwargs):
    """Invalidate the cached pages once the change is committed: earlier, a
    request could render the old rows again and store them as new."""
    transaction.on_commit(pagecache.invalidate, using=using)

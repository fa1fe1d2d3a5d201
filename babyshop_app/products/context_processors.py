from products.models import Category


def categories(request):
    """The category menu shown in every page's header (evaluated lazily)."""
    return {"nav_categories": Category.objects.all()}

from products.cart import Cart
from products.models import Category


def categories(request):
    """The category menu shown in every page's header (evaluated lazily)."""
    return {"nav_categories": Category.objects.all()}


def cart(request):
    """How many items the visitor's cart holds, for the header's cart link."""
    return {"cart_items": len(Cart(request.session))}

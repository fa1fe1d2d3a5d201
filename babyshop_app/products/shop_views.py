"""The cart, checkout and orders of the demo shop (products/cart.py does the work)."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from products.cart import Cart, CheckoutRefused, place_order
from products.forms import CheckoutForm, QuantityForm
from products.models import Order, Product

# The orders this session placed, which it may see without logging in.
ORDERS_KEY = "orders"


def _same_origin(request):
    """A browser's POST from this site's own pages (its Origin header, or
    Sec-Fetch-Site where only that is sent)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return request.headers.get("Sec-Fetch-Site", "same-origin") == "same-origin"
    return origin == f"{request.scheme}://{request.get_host()}" or origin in settings.CSRF_TRUSTED_ORIGINS


# A product's part of its page is the same for everyone, so it is a cached
# fragment (product_detail.html); a CSRF token would make it a visitor's own. The
# add-to-cart form therefore carries none: this view refuses any POST whose
# Origin is another site's, and the session cookie is SameSite=Lax, so
# another site cannot put things in a visitor's cart (docs/security.md).
@csrf_exempt
@require_POST
def cart_add(request, pk):
    if not _same_origin(request):
        raise PermissionDenied("cross-site request")
    product = get_object_or_404(Product.objects.active(), pk=pk)
    if product.stock > 0:
        Cart(request.session).add(product.pk)
    return redirect("products:cart")


@require_POST
def cart_update(request, pk):
    form = QuantityForm(request.POST)
    if form.is_valid():
        Cart(request.session).set(pk, form.cleaned_data["quantity"])
    return redirect("products:cart")


@require_GET
def cart_view(request):
    lines = Cart(request.session).lines()
    return render(request, "products/cart.html", {"lines": lines, "total": Cart.total(lines)})


@require_http_methods(["GET", "POST"])
def checkout(request):
    cart = Cart(request.session)
    form, error = None, None
    if request.method == "POST":
        form = CheckoutForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            user = request.user if request.user.is_authenticated else None
            try:
                order = place_order(cart, user=user, **data)
            except CheckoutRefused as refused:
                # A new form, for the cart as it is now, keeping what was typed.
                form, error = None, str(refused)
            else:
                request.session[ORDERS_KEY] = [*request.session.get(ORDERS_KEY, [])[-19:], str(order.number)]
                return redirect(order)
    lines = cart.lines()
    if not lines and error is None:
        return redirect("products:cart")
    if form is None:
        user = request.user
        details = request.POST if error else {
            "name": user.get_full_name() if user.is_authenticated else "",
            "email": user.email if user.is_authenticated else "",
        }  # fmt: skip
        form = CheckoutForm(
            initial={
                **{field: details.get(field, "") for field in ("name", "email", "address")},
                "submission": cart.new_submission(),
                "fingerprint": Cart.fingerprint(lines),
            }
        )
    context = {"form": form, "lines": lines, "total": Cart.total(lines), "error": error}
    return render(request, "products/checkout.html", context)


@require_GET
def order_detail(request, number):
    order = get_object_or_404(Order.objects.prefetch_related("lines"), number=number)
    mine = str(order.number) in request.session.get(ORDERS_KEY, []) or (
        request.user.is_authenticated and order.user_id == request.user.pk
    )
    if not mine:
        raise Http404("no such order")
    return render(request, "products/order_detail.html", {"order": order})


@login_required
@require_GET
def order_list(request):
    orders = request.user.orders.prefetch_related("lines")
    return render(request, "products/order_list.html", {"orders": orders})

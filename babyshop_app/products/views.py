from django.shortcuts import get_object_or_404
from django.views.generic import DetailView, ListView

from products.models import Category, Product


class ProductListView(ListView):
    """Active products, newest first, 12 a page; optionally one category's."""

    template_name = "products/product_list.html"
    context_object_name = "products"
    paginate_by = 12

    def get_queryset(self):
        products = Product.objects.active().select_related("category")
        self.category = None
        if "slug" in self.kwargs:
            self.category = get_object_or_404(Category, slug=self.kwargs["slug"])
            products = products.filter(category=self.category)
        return products

    def get_context_data(self, **kwargs):
        context = super().get_context_data(current_category=self.category, **kwargs)
        # The key of the cached grid (product_list.html): what it shows, as the
        # database has it now, so a save makes a new key in every process.
        context["grid_version"] = [
            (product.pk, product.updated_at, product.category.name, product.category.slug)
            for product in context["products"]
        ]
        return context


class ProductDetailView(DetailView):
    template_name = "products/product_detail.html"
    context_object_name = "product"

    def get_queryset(self):
        return Product.objects.active().select_related("category")

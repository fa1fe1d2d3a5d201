from django.contrib import admin, messages

from products.models import Category, Order, OrderLine, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "price", "stock", "is_active", "created_at"]
    list_filter = ["is_active", "category", "created_at"]
    list_editable = ["is_active"]
    list_select_related = ["category"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "created_at"


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fields = ["product", "product_name", "unit_price", "quantity"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders change status only through the actions: shipped (the shopper
    gets a mail) or cancelled (the items go back to stock)."""

    list_display = ["__str__", "placed_at", "name", "email", "total", "status"]
    list_filter = ["status", "placed_at"]
    search_fields = ["number", "name", "email"]
    date_hierarchy = "placed_at"
    readonly_fields = ["number", "user", "name", "email", "address", "status", "total", "placed_at"]
    fields = readonly_fields
    inlines = [OrderLineInline]
    actions = ["ship", "cancel"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Mark the selected placed orders shipped (mails the shoppers)")
    def ship(self, request, queryset):
        self._change(request, queryset, Order.ship, "shipped")

    @admin.action(description="Cancel the selected placed orders (their items go back to stock)")
    def cancel(self, request, queryset):
        self._change(request, queryset, Order.cancel, "cancelled")

    def _change(self, request, queryset, change, done):
        changed = sum(change(order) for order in queryset)
        self.message_user(request, f"{changed} order(s) {done}.", messages.SUCCESS)
        if skipped := queryset.count() - changed:
            self.message_user(
                request, f"{skipped} order(s) were not placed, and were left alone.", messages.WARNING
            )

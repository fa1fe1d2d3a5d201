import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models, transaction
from django.db.models import F
from django.db.models.functions import Now
from django.urls import reverse

from babyshop.images import ImageField
from babyshop.mail import validate_recipient
from products.mails import send_order_mail


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("products:category", kwargs={"slug": self.slug})


class ProductQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class Product(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    image = ImageField(upload_to="products/", blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    is_active = models.BooleanField(default=True, help_text="Only active products are listed.")
    # A database default too: code of the release before, which knows no
    # stock, can still add products while a deploy runs.
    stock = models.PositiveIntegerField(default=0, db_default=0, help_text="Items left to sell.")
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by every write, QuerySet.update() included (cart.py): the keys of
    # the cached fragments that show a product carry it.
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["is_active", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_not_negative"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("products:detail", kwargs={"slug": self.slug})


class Order(models.Model):
    """What a shopper bought: placed at checkout, then shipped or cancelled
    in the admin. Each line keeps the price paid."""

    class Status(models.TextChoices):
        PLACED = "placed", "placed"
        SHIPPED = "shipped", "shipped"
        CANCELLED = "cancelled", "cancelled"

    # In URLs and mails: not guessable, unlike the id.
    number = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The checkout form's own id: a form sent twice (a double click, a
    # retried POST) finds the order it made the first time.
    submission = models.UUIDField(unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(validators=[validate_recipient])
    # A limit for forms only: the column has none.
    address = models.TextField(max_length=1000)
    status = models.CharField(max_length=10, choices=Status, default=Status.PLACED)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    placed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(total__gte=0), name="order_total_not_negative")
        ]

    def __str__(self):
        return f"order {str(self.number)[:8]}"

    def get_absolute_url(self):
        return reverse("products:order", kwargs={"number": self.number})

    @transaction.atomic
    def ship(self):
        """placed -> shipped, and the shopper is told; False if it was not placed."""
        if not Order.objects.filter(pk=self.pk, status=self.Status.PLACED).update(status=self.Status.SHIPPED):
            return False
        self.status = self.Status.SHIPPED
        send_order_mail(self, "shipped")
        return True

    @transaction.atomic
    def cancel(self):
        """placed -> cancelled, its items back in stock; False if it was not placed."""
        if not Order.objects.filter(pk=self.pk, status=self.Status.PLACED).update(
            status=self.Status.CANCELLED
        ):
            return False
        self.status = self.Status.CANCELLED
        for line in self.lines.order_by("product_id"):
            Product.objects.filter(pk=line.product_id).update(
                stock=F("stock") + line.quantity, updated_at=Now()
            )
        return True


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    # As they were when the order was placed.
    product_name = models.CharField(max_length=200)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="order_line_quantity")
        ]

    def __str__(self):
        return f"{self.quantity} x {self.product_name}"

    @property
    def subtotal(self):
        return self.unit_price * self.quantity

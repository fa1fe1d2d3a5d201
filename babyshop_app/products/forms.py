from django import forms

from products.cart import MAX_QUANTITY
from products.models import Order


class QuantityForm(forms.Form):
    quantity = forms.IntegerField(min_value=0, max_value=MAX_QUANTITY)


class CheckoutForm(forms.ModelForm):
    """The shopper's details, as long and as checked as the order stores them
    (place_order saves the order)."""

    # This form's own id (a double submit sends it twice: one order) and
    # what the cart looked like when it was shown.
    submission = forms.UUIDField(widget=forms.HiddenInput)
    fingerprint = forms.CharField(widget=forms.HiddenInput, max_length=64)

    class Meta:
        model = Order
        fields = ["name", "email", "address"]
        widgets = {"address": forms.Textarea(attrs={"rows": 4})}
        help_texts = {"email": "The confirmation goes here."}

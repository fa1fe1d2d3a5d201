from django import forms

from products.cart import MAX_QUANTITY


class QuantityForm(forms.Form):
    quantity = forms.IntegerField(min_value=0, max_value=MAX_QUANTITY)


class CheckoutForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.EmailField(help_text="The confirmation goes here.")
    address = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=1000)
    # This form's own id (a double submit sends it twice: one order) and
    # what the cart looked like when it was shown.
    submission = forms.UUIDField(widget=forms.HiddenInput)
    fingerprint = forms.CharField(widget=forms.HiddenInput, max_length=64)

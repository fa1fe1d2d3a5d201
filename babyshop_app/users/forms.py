from django.contrib.auth.forms import UserCreationForm

from babyshop.mail import validate_recipient
from users.models import User


class RegisterForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ["username", "email"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # On the form, not on User.email: that would take a migration of users/.
        self.fields["email"].validators.append(validate_recipient)

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The project's own user model, set from the first migration so that it
    can grow fields later without the painful switch away from auth.User."""

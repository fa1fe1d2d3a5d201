"""Log-in throttling (django-axes): the user name it records.

django-axes records the submitted user name as it came, into 255-character
columns, so a longer one was a server error. Django's log-in forms check no
length before authenticating, so the name is cut to the column here: no
account can have such a name, and the form answers "incorrect" as for any other.
"""

from django.conf import settings

# As django-axes' migrations make the columns (users/tests/test_form_input.py
# fails if they shrink).
USERNAME_LENGTH = 255


def client_username(request, credentials):
    """AXES_USERNAME_CALLABLE: the submitted user name, cut to what django-axes stores."""
    field = settings.AXES_USERNAME_FORM_FIELD
    username = credentials.get(field) if credentials else getattr(request, "POST", {}).get(field)
    return username[:USERNAME_LENGTH] if isinstance(username, str) else username

"""Log-in throttling (django-axes), made safe against the users it protects.

django-axes counts failures per client address and per username (settings:
AXES_LOCKOUT_PARAMETERS). Two of its behaviours are replaced here:

- On success it would delete every failure matching the client's address OR
  the username (AXES_RESET_ON_SUCCESS). Registration is open, so anyone could
  guess at another account between log-ins of their own and never be locked
  out. A success forgets only that username's failures from that address.
- It records the submitted user name as it came, into 255-character columns,
  so a longer one was a server error. Django's log-in forms check no length
  before authenticating, so the name is cut to the column here: no account
  can have such a name, and the form answers "incorrect" as for any other.
"""

from axes.models import AccessAttempt
from django.conf import settings

USERNAME_LENGTH = AccessAttempt._meta.get_field("username").max_length


def client_username(request, credentials):
    """AXES_USERNAME_CALLABLE: the submitted user name, cut to what django-axes stores."""
    field = settings.AXES_USERNAME_FORM_FIELD
    username = credentials.get(field) if credentials else getattr(request, "POST", {}).get(field)
    return username[:USERNAME_LENGTH] if isinstance(username, str) else username


def forget_own_failures(sender, request, user, **kwargs):
    """On user_logged_in: this username's failures from this client's address go."""
    address = getattr(request, "axes_ip_address", None)
    if address is not None:
        username = user.get_username()[:USERNAME_LENGTH]
        AccessAttempt.objects.filter(username=username, ip_address=address).delete()

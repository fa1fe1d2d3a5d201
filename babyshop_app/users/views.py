from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.db import connection, transaction
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.tasks import task
from django.urls import reverse_lazy
from django.views.generic import CreateView
from django_ratelimit.core import is_ratelimited

from users.forms import RegisterForm


def submitted_email(group, request):
    """A django-ratelimit key: the address a form was sent with, as the accounts' lookup compares it."""
    return request.POST.get("email", "").strip().lower()


# Requests (each POST, valid or not) allowed per hour: per client address
# (babyshop/proxy.py; IPv6 per /64) and, for reset, per submitted address.
RESET_LIMITS = [("ip", "10/h"), (submitted_email, "3/h")]
REGISTER_LIMITS = [("ip", "10/h")]


def over_limit(request, group, limits):
    """Count this request against each (key, rate) of group; True when it goes over any.

    The counters are in a database cache (settings.CACHES["throttle"]),
    whose increment is a read then a write: a PostgreSQL lock makes them one
    at a time, else concurrent requests would be counted as one.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('users.views.over_limit'))")
        # Every limit counts the request, even after one is over.
        over = [is_ratelimited(request, group, key=key, rate=rate, increment=True) for key, rate in limits]
    return any(over)


def too_many(request, message):
    return render(request, "users/too_many.html", {"message": message}, status=429)


class RegisterView(CreateView):
    form_class = RegisterForm
    template_name = "users/register.html"
    success_url = reverse_lazy("home")

    def post(self, request, *args, **kwargs):
        if over_limit(request, "register", REGISTER_LIMITS):
            return too_many(request, "Too many sign-ups from your network. Please try again in an hour.")
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        # Named, since django-axes adds a second authentication backend.
        login(self.request, self.object, backend="django.contrib.auth.backends.ModelBackend")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, except that the accounts are looked up and mailed by the
    worker (send_password_reset): the page does the same work, one task
    queued, whether the address has an account or not, so its answer time
    does not tell."""

    email_template_name = "registration/password_reset_email.txt"
    html_email_template_name = "registration/password_reset_email.html"

    def post(self, request, *args, **kwargs):
        # The same for a registered address and any other.
        if over_limit(request, "password-reset", RESET_LIMITS):
            return too_many(
                request,
                "Too many password resets were asked for this address or from your network. "
                "Please try again in an hour.",
            )
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        send_password_reset.enqueue(
            form.cleaned_data["email"], self.request.get_host(), self.request.is_secure()
        )
        return HttpResponseRedirect(self.get_success_url())


@task
def send_password_reset(email, domain, use_https):
    """The mails PasswordResetView would have sent (Django's form looks the
    accounts up), with the link to the site at domain; queued in turn."""
    form = PasswordResetForm({"email": email})
    if form.is_valid():
        form.save(
            domain_override=domain,
            use_https=use_https,
            email_template_name=PasswordResetView.email_template_name,
            html_email_template_name=PasswordResetView.html_email_template_name,
        )

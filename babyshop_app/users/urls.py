from django.contrib.auth import views as auth_views
from django.urls import path

from users.views import PasswordResetView, RegisterView

urlpatterns = [
    path("register/", RegisterView.as_view(), name="register"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    # Django's LogoutView accepts POST only: a link or an <img> cannot log you out.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password reset by mail (the accounts looked up and mailed by the worker,
    # users/views.py). The link is built from the request's host and scheme,
    # so behind the proxy it is https://SITE_DOMAIN/...
    path("password-reset/", PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"
    ),
]

from django.contrib.auth import views as auth_views
from django.urls import path

from users.views import RegisterView

urlpatterns = [
    path("register/", RegisterView.as_view(), name="register"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    # Django's LogoutView accepts POST only: a link or an <img> cannot log you out.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

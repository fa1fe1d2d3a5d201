from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from babyshop import media

admin.site.site_header = "babyshop administration"
admin.site.site_title = "babyshop admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("users.urls")),
    # Uploads, in development and production alike (see babyshop/media.py).
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", media.serve, name="media"),
    # demo: start
    # The demo catalog's list is the home page while it is here.
    path("", include("products.urls")),
    # demo: end
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
]

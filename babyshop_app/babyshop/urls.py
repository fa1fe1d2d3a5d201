from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "babyshop administration"
admin.site.site_title = "babyshop admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("users.urls")),
    path("", include("products.urls")),
]

# Development only: runserver serves uploads. In production the proxy serves
# MEDIA_ROOT (see the README); `static()` returns nothing when DEBUG is off.
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

from django.urls import path

from products import shop_views, views

app_name = "products"

urlpatterns = [
    path("", views.ProductListView.as_view(), name="list"),
    path("category/<slug:slug>/", views.ProductListView.as_view(), name="category"),
    path("products/<slug:slug>/", views.ProductDetailView.as_view(), name="detail"),
    path("cart/", shop_views.cart_view, name="cart"),
    path("cart/add/<int:pk>/", shop_views.cart_add, name="cart_add"),
    path("cart/<int:pk>/", shop_views.cart_update, name="cart_update"),
    path("checkout/", shop_views.checkout, name="checkout"),
    path("orders/", shop_views.order_list, name="orders"),
    path("orders/<uuid:number>/", shop_views.order_detail, name="order"),
]

"""URL map: glue only."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from outcomedesk.api.api import api
from outcomedesk.web import views as web_views

urlpatterns = [
    path("", web_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("desk/", include("outcomedesk.web.urls")),
    path("portal/", include("outcomedesk.portal.urls")),
    path("insights/maturity/", include("outcomedesk.improvement.urls")),
    path("insights/improvement/", include("outcomedesk.improvement.register_urls")),
    path("insights/", include("outcomedesk.web.insights_urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]

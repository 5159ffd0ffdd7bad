"""URL map: glue only."""

from allauth.account import views as account_views
from allauth.account.decorators import secure_admin_login
from allauth.socialaccount.models import SocialApp, SocialToken
from allauth.socialaccount.providers.openid_connect import views as oidc_views
from allauth.socialaccount.providers.saml import views as saml_views
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import include, path

from outcomedesk.accounts.sso import unreachable_provider_guard
from outcomedesk.api.api import api
from outcomedesk.web import views as web_views

# The admin logs in through the product's login page, so that MFA and the lockout apply there too.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
# Identity providers are configured from the environment only (config/sso.py), with their secrets; tokens not kept.
admin.site.unregister(SocialApp)
admin.site.unregister(SocialToken)


def _not_offered(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    """allauth pages the product does not offer: a person's e-mail comes from an admin or the directory, and a
    person who signs in through SSO or the directory does not give themselves a local password."""
    raise Http404("not offered")


urlpatterns = [
    path("", web_views.home, name="home"),
    path("accounts/email/", _not_offered),
    path("accounts/3rdparty/", _not_offered),
    path("accounts/password/set/", _not_offered),
    # An identity provider that is down gets a page saying so, not a server error.
    path("accounts/oidc/<str:provider_id>/login/", unreachable_provider_guard(oidc_views.login, "provider_id")),
    path("accounts/saml/<str:organization_slug>/login/",
         unreachable_provider_guard(saml_views.login, "organization_slug")),
    path("accounts/", include("allauth.urls")),
    # After allauth's own: reverse("account_login") is then /login/ too (Django picks the last pattern of a name).
    path("login/", account_views.login, name="login"),
    path("login/", account_views.login, name="account_login"),
    path("logout/", account_views.logout, name="logout"),
    path("logout/", account_views.logout, name="account_logout"),
    path("desk/", include("outcomedesk.web.urls")),
    path("portal/", include("outcomedesk.portal.urls")),
    path("insights/maturity/", include("outcomedesk.improvement.urls")),
    path("insights/improvement/", include("outcomedesk.improvement.register.urls")),
    path("insights/", include("outcomedesk.web.insights_urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]

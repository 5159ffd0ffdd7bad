"""Django's admin app with the policy-restricted site (`admin_site.PolicyAdminSite`); no model imported here,
since Django reads app configs before models load."""

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "outcomedesk.accounts.admin_site.PolicyAdminSite"

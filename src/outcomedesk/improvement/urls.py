"""Pages of maturity assessment, under /insights/maturity/ (the improvement register's are in register/urls.py)."""

from django.urls import re_path

from outcomedesk.improvement import views
from outcomedesk.improvement.questionnaire import PRACTICES

# Only practice keys match: any other path under /insights/maturity/ is a 404, not a practice page.
PRACTICE = "(?P<practice>" + "|".join(p.key for p in PRACTICES) + ")"

app_name = "improvement"
urlpatterns = [
    re_path(r"^$", views.maturity, name="maturity"),
    re_path(rf"^{PRACTICE}/$", views.history, name="history"),
    re_path(rf"^{PRACTICE}/assess/$", views.assess, name="assess"),
]

"""The insights dashboards under /insights/."""


app_name = "insights"
urlpatterns: list = []

from ninja import NinjaAPI

api = NinjaAPI(title="Outcomedesk API", version="1")

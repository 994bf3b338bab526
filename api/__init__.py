"""FarmTrust's HTTP API (FastAPI) and dashboard, for devices' owners, cooperatives, lenders and admins."""

from api.app import create_app

__all__ = ["create_app"]

"""This app's REST endpoints, mounted by config/api.py."""

from ninja import Router

router = Router()

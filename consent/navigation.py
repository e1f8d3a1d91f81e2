"""This app's entries in the menu (see core/navigation.py)."""

from core.navigation import NavLink

LINKS: list[NavLink] = []

"""This app's entries in the menu (see core/navigation.py)."""

from core.navigation import NavLink

LINKS: list[NavLink] = [NavLink("Reports", "reports:list", "reports.view_report")]

"""This app's entries in the menu (see core/navigation.py)."""

from core.navigation import NavLink

LINKS: list[NavLink] = [
    NavLink("Consent", "consent:subjects", "consent.view_subject"),
    NavLink("Datasets", "consent:datasets", "consent.view_dataset"),
]

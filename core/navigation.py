"""The menu: each app lists its pages in `<app>/navigation.py`; a user sees those their role may use."""

from dataclasses import dataclass

from django.urls import reverse


@dataclass(frozen=True)
class NavLink:
    label: str
    url_name: str
    permission: str | None = None  # None: every signed-in user

    def allowed(self, user) -> bool:
        return self.permission is None or user.has_perm(self.permission)


def _links() -> list[NavLink]:
    from audit.navigation import LINKS as audit_links
    from consent.navigation import LINKS as consent_links
    from reports.navigation import LINKS as report_links
    from scoring.navigation import LINKS as scoring_links

    return [NavLink("Dashboard", "dashboard"), *consent_links, *scoring_links, *audit_links, *report_links]


def navigation_for(request) -> list[dict]:
    user = request.user
    if not user.is_authenticated:
        return []
    current = request.resolver_match.view_name if request.resolver_match else None
    return [
        {"label": link.label, "href": reverse(link.url_name), "current": link.url_name == current}
        for link in _links()
        if link.allowed(user)
    ]

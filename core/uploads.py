"""Every upload is capped while it streams in, not after it has been received.

`CappedUploadHandler` comes first in FILE_UPLOAD_HANDLERS (config/settings.py). It counts each file's
bytes as they arrive and, once a file passes its cap, drops it (`SkipFile`): the handlers behind it
(memory, then a temporary file) never hold more than the cap, and the rest of that file is read past
without being kept. The handler remembers which field it refused, so a page can put an error naming
the cap next to the field (`CappedUploadsForm`) and the API can answer 413 (`refuse_oversized`).

An upload gets MAX_UPLOAD_BYTES unless its view names a cap of its own with `upload_caps`. Caps must
be in place before anything reads the body, and Django's CSRF check reads it: `upload_caps` does what
Django's documentation prescribes for changing upload handlers, the view is csrf_exempt outside and
csrf_protect inside, once the caps are set. For the API, `cap_uploads` is an endpoint's `before_body`.
"""

from collections.abc import Callable
from functools import wraps

from django import forms
from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from core.api import FieldError

TOO_LARGE = "The file is larger than {cap}, the most this upload accepts; it was not kept."
TOO_LARGE_API = "the file is larger than {cap}, the most this upload accepts; it was not kept"


def size_label(size: int) -> str:
    """A byte count as people write it: 200 MB, 1.5 GB, 512 KB (binary multiples, as the caps are set)."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


class CappedUploadHandler(FileUploadHandler):
    """Drops a file once more than its cap has arrived; `refused` maps each dropped field to its cap.

    `caps` gives named file fields their own cap; every other file gets `default` (MAX_UPLOAD_BYTES).
    It passes each chunk on unchanged, so the next handler stores what this one lets through.
    """

    def __init__(self, request=None, *, caps: dict[str, int] | None = None, default: int | None = None):
        super().__init__(request)
        self.caps = dict(caps or {})
        self.default = settings.MAX_UPLOAD_BYTES if default is None else default
        self.cap = self.default
        self.refused: dict[str, int] = {}

    def new_file(self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        self.cap = self.caps.get(field_name, self.default)
        if content_length is not None and content_length > self.cap:  # the part says its size up front
            self._refuse()

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.cap:
            self._refuse()
        return raw_data

    def file_complete(self, file_size):
        return None  # the handlers behind this one build the file

    def _refuse(self):
        self.refused[self.field_name] = self.cap
        raise SkipFile


def install_caps(request: HttpRequest, caps: dict[str, int]) -> None:
    """Put a handler with these per-field caps first, in place of the default one; before the body is read."""
    others = [handler for handler in request.upload_handlers if not isinstance(handler, CappedUploadHandler)]
    request.upload_handlers = [CappedUploadHandler(request, caps=caps), *others]


def _resolve(caps: dict[str, str]) -> dict[str, int]:
    # Setting names, read at request time, so that a test's or a deployment's value is the one applied.
    return {field: getattr(settings, name) for field, name in caps.items()}


def upload_caps(**caps: str) -> Callable:
    """A page view's caps, by file field and the name of the setting that holds each one:
    ``@upload_caps(file="MAX_IMPORT_UPLOAD_BYTES")``. The CSRF check still runs, after the caps are set."""

    def decorate(view):
        checked = csrf_protect(view)

        @wraps(view)
        def capped(request, *args, **kwargs):
            install_caps(request, _resolve(caps))
            return checked(request, *args, **kwargs)

        # The middleware would read the body before the caps are in place; `checked` does the CSRF check.
        return csrf_exempt(capped)

    return decorate


def cap_uploads(**caps: str) -> Callable[[HttpRequest], None]:
    """An API endpoint's `before_body` (core.api.allowed) that sets its caps, as `upload_caps` does for a page."""

    def before_body(request: HttpRequest) -> None:
        install_caps(request, _resolve(caps))

    return before_body


def refused_uploads(request: HttpRequest) -> dict[str, int]:
    """File fields of this request that were dropped for passing their cap, with the cap; read after the body."""
    refused: dict[str, int] = {}
    for handler in request.upload_handlers:
        if isinstance(handler, CappedUploadHandler):
            refused.update(handler.refused)
    return refused


def refuse_oversized(request: HttpRequest) -> None:
    """For the API: 413, naming the field and its cap, when an upload of this request passed its cap."""
    refused = refused_uploads(request)
    if refused:
        field, cap = next(iter(refused.items()))
        raise FieldError(field, TOO_LARGE_API.format(cap=size_label(cap)), 413)


class CappedUploadsForm(forms.Form):
    """A form whose file fields the handler may have dropped: each dropped one gets an error naming its cap
    (instead of "This field is required"), and the form is not valid."""

    too_large_message = TOO_LARGE

    def __init__(self, *args, refused_uploads: dict[str, int] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.refused_uploads = dict(refused_uploads or {})

    def full_clean(self):
        super().full_clean()
        if not self.is_bound:
            return
        for name, cap in self.refused_uploads.items():
            if name in self.fields:
                self._errors[name] = self.error_class([self.too_large_message.format(cap=size_label(cap))])
                self.cleaned_data.pop(name, None)


def form_data(request: HttpRequest) -> dict:
    """What a capped form is built from: bound on every POST (even one whose only file was dropped)."""
    if request.method != "POST":
        return {"data": None, "files": None}
    return {"data": request.POST, "files": request.FILES, "refused_uploads": refused_uploads(request)}

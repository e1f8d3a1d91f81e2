from io import BytesIO

import pytest
from pypdf import PdfReader

from reports.render import render_pdf
from tests.reports.render.sample_context import evidence_bytes, sample_context


@pytest.fixture(scope="module")
def pdf():
    """The sample report rendered once per module: PDF rendering takes a second or two."""
    return render_pdf(sample_context(), attachments={"evidence.json": evidence_bytes()})


@pytest.fixture(scope="module")
def reader(pdf):
    return PdfReader(BytesIO(pdf))


@pytest.fixture(scope="module")
def text(reader):
    """The text of every page, pages joined by newlines, runs of whitespace made single spaces."""
    return " ".join("\n".join(page.extract_text() for page in reader.pages).split())

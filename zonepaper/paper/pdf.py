"""Writing a printed output whole: built in a temporary file beside it, then moved into place."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from zonepaper.cycle import private_umask


@contextmanager
def whole_file(out: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `out` at once (never a half-written PDF)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with private_umask(), tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        part = Path(tmp) / out.name
        yield part
        os.replace(part, out)


def write_story(out: Path, story: list, title: str, margin: float) -> Path:
    """A reportlab story (paragraphs, tables, charts) as a Letter PDF."""
    from reportlab.lib.pagesizes import letter
    from reportlab.platypus import SimpleDocTemplate

    with whole_file(out) as part:
        SimpleDocTemplate(str(part), pagesize=letter, leftMargin=margin, rightMargin=margin, topMargin=margin,
                          bottomMargin=margin, title=title).build(story)
    return out

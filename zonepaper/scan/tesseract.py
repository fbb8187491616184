"""Tesseract as a second reader: in-process through tesserocr when installed, pytesseract otherwise."""

from __future__ import annotations

import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

TESSDATA_CANDIDATES = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                       "/usr/share/tessdata", "/usr/local/share/tessdata")
DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZÁÉÍÓÚÑÜ"


@lru_cache(maxsize=1)
def tessdata_dir() -> str | None:
    """Where the system's traineddata files are (the Debian packages put them here)."""
    env = os.environ.get("TESSDATA_PREFIX")
    for candidate in ([env] if env else []) + list(TESSDATA_CANDIDATES):
        if candidate and (Path(candidate) / "eng.traineddata").is_file():
            return candidate
    return None


def missing_tesseract() -> str | None:
    """What is missing for Tesseract to read eng and spa, or None: the program or its language data."""
    import shutil

    folder = tessdata_dir()
    if folder is None and shutil.which("tesseract") is None:
        return "tesseract-ocr"
    for lang in ("eng", "spa"):
        if folder is not None and not (Path(folder) / f"{lang}.traineddata").is_file():
            return f"tesseract-ocr-{lang}"
    return None


class TesseractReader:
    """Reads one line of text from an image, restricted to a character set."""

    def __init__(self) -> None:
        self._apis: dict[tuple[str, str], object] = {}
        try:
            import tesserocr  # noqa: F401

            self.backend = "tesserocr" if tessdata_dir() else "pytesseract"
        except ImportError:
            self.backend = "pytesseract"

    def read_line(self, image: np.ndarray, charset: str, lang: str = "eng") -> tuple[str, float]:
        """Text and mean confidence (0-1) of a single line image (dark ink on white)."""
        if self.backend == "tesserocr":
            return self._read_tesserocr(image, charset, lang)
        return self._read_pytesseract(image, charset, lang)

    def _read_tesserocr(self, image: np.ndarray, charset: str, lang: str) -> tuple[str, float]:
        import tesserocr

        key = (charset, lang)
        api = self._apis.get(key)
        if api is None:
            api = tesserocr.PyTessBaseAPI(path=tessdata_dir() + "/", lang=lang, psm=tesserocr.PSM.SINGLE_LINE)
            api.SetVariable("tessedit_char_whitelist", charset + " ")
            api.SetVariable("load_system_dawg", "0")
            api.SetVariable("load_freq_dawg", "0")
            self._apis[key] = api
        api.SetImage(Image.fromarray(image))
        text = api.GetUTF8Text()
        confidences = api.AllWordConfidences()
        conf = (sum(confidences) / len(confidences) / 100.0) if confidences else 0.0
        return _clean(text, charset), conf

    def _read_pytesseract(self, image: np.ndarray, charset: str, lang: str) -> tuple[str, float]:
        import pytesseract

        config = f"--psm 7 -c tessedit_char_whitelist={charset}"
        try:
            data = pytesseract.image_to_data(Image.fromarray(image), lang=lang, config=config,
                                             output_type=pytesseract.Output.DICT)
        except (pytesseract.TesseractError, subprocess.SubprocessError, OSError):
            return "", 0.0
        words = [w for w, c in zip(data["text"], data["conf"]) if str(w).strip() and float(c) >= 0]
        confs = [float(c) for w, c in zip(data["text"], data["conf"]) if str(w).strip() and float(c) >= 0]
        return _clean(" ".join(words), charset), (sum(confs) / len(confs) / 100.0) if confs else 0.0


def _clean(text: str, charset: str) -> str:
    allowed = set(charset) | {" "}
    return re.sub(r"\s+", " ", "".join(ch for ch in text.upper() if ch in allowed)).strip()


_reader: TesseractReader | None = None


def tesseract_reader() -> TesseractReader:
    """The process-wide reader (each worker process makes its own)."""
    global _reader
    if _reader is None:
        _reader = TesseractReader()
    return _reader

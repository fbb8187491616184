#!/usr/bin/env bash
# Install what zonepaper needs on Debian/Ubuntu: system packages (apt-get,
# through sudo when not root), then a virtual environment with the package.
# Safe to run again: it only installs what is missing.
set -euo pipefail

cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(
  tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa   # bench_ingest.py's plain-Tesseract baseline only
  poppler-utils                                       # pdftoppm, pdftotext, pdfimages
  fonts-dejavu-core                                   # form font with á é í ó ú ñ ü ¿ ¡
  fonts-dejavu-extra                                  # its condensed faces: long labels stay at 7 pt or more
  fonts-dkg-handwriting fonts-breip fonts-sjfonts fonts-humor-sans  # hand-printing for the simulator
  fonts-bwht fonts-comic-neue fonts-klee fonts-rufscript fonts-yusei-magic  # hand-printing kept for the
  fonts-kaushanscript fonts-kristi fonts-tomsontalks  # networks' training data (scripts/training_fonts.py)
)
# Browser tests of the review page need Chromium: the "chromium" package on Debian,
# "chromium-browser" on Ubuntu.
BROWSER_PACKAGES=(chromium chromium-browser)

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
need_browser=1
for exe in /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -x "$exe" ]; then need_browser=0; fi
done

if [ ${#missing[@]} -gt 0 ] || [ "$need_browser" -eq 1 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update -qq
  if [ "$need_browser" -eq 1 ]; then
    for pkg in "${BROWSER_PACKAGES[@]}"; do
      if apt-cache show "$pkg" >/dev/null 2>&1; then missing+=("$pkg"); break; fi
    done
  fi
  echo "zonepaper setup: installing system packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "zonepaper setup: creating the virtual environment in .venv"
  "$PYTHON" -m venv .venv
fi

# Reinstall only when the project description changed since the last setup.
stamp=.venv/.zonepaper-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "zonepaper setup: installing the Python package and its dependencies"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test]"
  touch "$stamp"
fi
echo "zonepaper setup: ready"

#!/usr/bin/env bash
# Re-extract the strings of the pages, merge them into the English catalogue, fill and compile it.
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/pybabel extract -F babel.cfg -k _ -k _l -k gettext -k lazy_gettext -o webui/translations/messages.pot --no-location --omit-header . >/dev/null 2>&1
.venv/bin/pybabel update -i webui/translations/messages.pot -d webui/translations -l en --no-fuzzy-matching >/dev/null 2>&1
.venv/bin/python webui/translations/fill.py
.venv/bin/python -m engine.messages.build  # the engine's messages: engine/messages/en.po
.venv/bin/pybabel compile -d webui/translations >/dev/null 2>&1

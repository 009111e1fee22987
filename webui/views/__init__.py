"""Each module here is one area of the app with a blueprint `bp`; create_app registers them all."""

from __future__ import annotations

import importlib
import pkgutil

from flask import Blueprint


def blueprints() -> list[Blueprint]:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if isinstance(getattr(module, "bp", None), Blueprint):
            found.append(module.bp)
    return found

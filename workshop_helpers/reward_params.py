"""A reward parameter of your own: write, check and remove an extension of the environment.

The original workshop's exercise edited the environment's source to add a key to ``params``.
Here the key comes from a builder in a file of ``markov.environment.extensions`` (the extension
point of ``markov.environment.extra_params``): the bundle packs that folder with the engine, so
local workers and AWS jobs started afterwards load it.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path

from markov.environment.extra_params import (
    EXTENSIONS_PACKAGE,
    load_extensions,
    params_builders,
    unload_extension,
)


class ParamsExtensionError(ValueError):
    """An extension file cannot be written or does not register a params builder."""


def extensions_folder() -> Path:
    """The folder of ``markov.environment.extensions`` (inside the engine the bundle packs)."""
    package = importlib.import_module(EXTENSIONS_PACKAGE)
    return Path(next(iter(package.__path__)))


def write_params_extension(name: str, source: str) -> Path:
    """Save ``source`` as ``markov/environment/extensions/<name>.py`` and load it here.

    Refused (nothing saved) when ``name`` is not a module name, the code has a syntax error or
    fails on import, or it registers no params builder. Returns the file's path.
    """
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise ParamsExtensionError(
            f"extension name is {name!r}; use a Python identifier such as 'distance_to_finish'"
        )
    try:
        compile(source, f"{name}.py", "exec")
    except SyntaxError as error:
        raise ParamsExtensionError(
            f"{name}.py has a syntax error at line {error.lineno}: {error.msg}; fix that line"
        ) from None
    path = extensions_folder() / f"{name}.py"
    previous = path.read_text(encoding="utf-8") if path.exists() else None
    _write_atomically(path, source)
    module = f"{EXTENSIONS_PACKAGE}.{name}"
    unload_extension(module)
    try:
        load_extensions()
        registered = [key for key, b in params_builders().items() if b.__module__ == module]
        if not registered:
            raise ParamsExtensionError(
                f"{name}.py registers no params builder; decorate a function "
                "`def builder(params, env)` with @register_params_builder('<name>')"
            )
    except Exception:
        unload_extension(module)
        if previous is None:
            path.unlink(missing_ok=True)
        else:
            _write_atomically(path, previous)
        raise
    return path


def remove_params_extension(name: str) -> bool:
    """Delete the extension file ``<name>.py`` and forget its builders; False if it was absent."""
    path = extensions_folder() / f"{name}.py"
    unload_extension(f"{EXTENSIONS_PACKAGE}.{name}")
    if not path.exists():
        return False
    path.unlink()
    return True


def _write_atomically(path: Path, text: str) -> None:
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)

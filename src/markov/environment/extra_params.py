"""Extension point of the environment: builders that add reward params of your own.

The original workshop added a reward parameter by editing the environment's source. Here a
builder adds it without touching the engine: a function ``builder(params, env)`` gets a copy of
the standard params of the step and the environment (``env.track``, ``env.car``,
``env.sim_time``, ``env.config``) and returns a mapping of new keys to values. The environment
adds them to the params the reward function receives, after the standard keys.

Register a builder in a module of the package ``markov.environment.extensions``::

    from markov.environment.extra_params import register_params_builder

    @register_params_builder("distance_to_finish")
    def distance_to_finish(params, env):
        return {"distance_to_finish": (1 - params["progress"] / 100) * params["track_length"]}

Every environment imports that package's modules when it is created, so rollout and evaluation
workers started afterwards see the new keys, locally and on AWS (the bundle carries the package).
A builder may not replace a standard key, and a key it returns must be a string.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Mapping
from typing import Any

EXTENSIONS_PACKAGE = "markov.environment.extensions"

ParamsBuilder = Callable[[Mapping[str, Any], Any], Mapping[str, Any]]

_BUILDERS: dict[str, ParamsBuilder] = {}


class ExtraParamsError(ValueError):
    """A params builder returned something the reward function cannot receive."""


def register_params_builder(name: str) -> Callable[[ParamsBuilder], ParamsBuilder]:
    """Decorator: register ``builder`` under ``name`` (registering a name again replaces it)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ExtraParamsError(
            f"params builder name is {name!r}; use a Python identifier such as 'my_param'"
        )

    def register(builder: ParamsBuilder) -> ParamsBuilder:
        _BUILDERS[name] = builder
        return builder

    return register


def unregister_params_builder(name: str) -> None:
    """Remove a registered builder (no error when it is not registered)."""
    _BUILDERS.pop(name, None)


def params_builders() -> dict[str, ParamsBuilder]:
    """The registered builders by name, in registration order."""
    return dict(_BUILDERS)


def load_extensions() -> list[str]:
    """Import every module of ``markov.environment.extensions`` not imported yet (modules added
    since the last call count); returns the names of the modules loaded by this call."""
    package = importlib.import_module(EXTENSIONS_PACKAGE)
    importlib.invalidate_caches()
    loaded = []
    for module in pkgutil.iter_modules(package.__path__):
        name = f"{EXTENSIONS_PACKAGE}.{module.name}"
        if name not in _imported:
            importlib.import_module(name)
            _imported.add(name)
            loaded.append(name)
    return loaded


_imported: set[str] = set()


def unload_extension(module: str) -> None:
    """Forget the extension module ``module`` (a name in the package) and its builders, so a
    removed or rewritten file stops counting in this process."""
    prefix = f"{EXTENSIONS_PACKAGE}."
    name = module if module.startswith(prefix) else prefix + module
    for key, builder in list(_BUILDERS.items()):
        if getattr(builder, "__module__", None) == name:
            del _BUILDERS[key]
    _imported.discard(name)
    sys.modules.pop(name, None)


def extra_params(params: Mapping[str, Any], env: Any) -> dict[str, Any]:
    """The keys every registered builder adds for this step, checked."""
    added: dict[str, Any] = {}
    for name, builder in _BUILDERS.items():
        result = builder(dict(params), env)
        if not isinstance(result, Mapping):
            raise ExtraParamsError(
                f"params builder {name!r} returned {type(result).__name__}; return a dict of "
                "new param names to values"
            )
        for key, value in result.items():
            if not isinstance(key, str):
                raise ExtraParamsError(
                    f"params builder {name!r} returned the key {key!r}; param names are strings"
                )
            if key in params:
                raise ExtraParamsError(
                    f"params builder {name!r} returned {key!r}, a standard param; give your "
                    "param a new name"
                )
            added[key] = value
    return added

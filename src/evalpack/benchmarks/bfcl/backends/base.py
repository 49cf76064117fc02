"""What the simulated BFCL backends share.

Each backend is a plain class whose public methods are the tools the model may
call; public attributes are the state compared after every turn (attributes
starting with `_` are private and never compared, as in BFCL). `load` gets the
entry's `initial_config` for the class and the long-context flag.
"""

from __future__ import annotations

import copy


class Backend:
    def load(self, config: dict, long_context: bool = False, noise: dict | None = None) -> None:
        """`noise`: the long-context filler (see `noise.py`), given when `long_context` is set."""
        raise NotImplementedError

    def state(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    @classmethod
    def tool_names(cls) -> list[str]:
        return [n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")
                and n not in ("load", "state", "tool_names")]


def config_value(config: dict, key: str, default):
    """The scenario's value, else a fresh copy of the default (defaults must never be shared)."""
    return config[key] if key in config else copy.deepcopy(default)

"""evalpack: offline-first evaluation of LLMs behind OpenAI-compatible APIs."""

__version__ = "0.1.0"

__all__ = ["evaluate", "evaluate_async", "load_run"]


def __getattr__(name: str):
    # the API loads on first use, so `import evalpack` (and `evalpack --help`) stays light
    if name in __all__:
        from evalpack import api

        return getattr(api, name)
    raise AttributeError(f"module 'evalpack' has no attribute {name!r}")

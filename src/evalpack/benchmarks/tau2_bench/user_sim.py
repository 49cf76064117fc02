"""The simulated customer's system prompt, as upstream builds it: the global simulation
guidelines (the "tools" variant when the user has tools, as in telecom), then the task's
user scenario inside <scenario> tags, rendered the way tau2's `UserScenario.__str__` does.
The guidelines are data files of the dataset (`user_simulator/`), read, never rewritten."""

from __future__ import annotations

import textwrap
from pathlib import Path

from evalpack.benchmarks.tau2_bench.environment import _read


def guidelines(root: Path, with_tools: bool) -> str:
    name = "simulation_guidelines_tools.md" if with_tools else "simulation_guidelines.md"
    return _read(Path(root) / "user_simulator" / name)


def render_instructions(instructions) -> str:
    if isinstance(instructions, str):
        return instructions
    lines = [f"Domain: {instructions['domain']}",
             f"Reason for call:\n{textwrap.indent(instructions['reason_for_call'], chr(9))}"]
    if instructions.get("known_info") is not None:
        lines.append(f"Known info:\n{textwrap.indent(instructions['known_info'], chr(9))}")
    if instructions.get("unknown_info") is not None:
        lines.append(f"Unknown info:\n{textwrap.indent(instructions['unknown_info'], chr(9))}")
    lines.append(f"Task instructions:\n{textwrap.indent(instructions['task_instructions'], chr(9))}")
    return "\n".join(lines)


def render_scenario(scenario: dict) -> str:
    lines = []
    if scenario.get("persona") is not None:
        lines += ["Persona:", textwrap.indent(scenario["persona"], "\t")]
    lines += ["Instructions:", textwrap.indent(render_instructions(scenario["instructions"]), "\t")]
    return "\n".join(lines)


def user_system_prompt(root: Path, scenario: dict, with_tools: bool) -> str:
    return f"{guidelines(root, with_tools)}\n\n<scenario>\n{render_scenario(scenario)}\n</scenario>"

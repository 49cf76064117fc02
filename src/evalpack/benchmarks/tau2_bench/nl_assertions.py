"""tau2's natural-language assertions, graded by the judge (upstream NLAssertionsEvaluator).

Upstream semantics, carried over: one judge call per task, with every assertion of the task;
the conversation is shown as one "role: content" line per message of the trajectory (tool
calls and tool results included as they are); the judge answers a JSON object
{"results": [{"expectedOutcome", "reasoning", "metExpectation"}]}; the NL reward is 1 when
every assertion is met, else 0, and it multiplies the task's reward. Unlike upstream (which
crashes on a reply that is not JSON), an unreadable reply, or one that grades fewer outcomes
than were asked, is asked again (scoring/judge.py) and then a judge error.
"""

from __future__ import annotations

from evalpack.scoring.judge import Judge, json_object

SYSTEM_PROMPT = """TASK
- You will be given a list of expected outcomes and a conversation that was collected during a test case run.
- The conversation is between an agent and a customer.
- Your job is to evaluate whether the agent satisfies each of the expected outcomes.
- Grade each expected outcome individually.

FORMAT
- Your response should be a JSON object with the following fields:
- `reasoning`: a short explanation for your classification
- `metExpectation`: `true` if the agent satisfies the expected outcomes, `false` otherwise
- `expectedOutcome`: repeat the expectation from the input that you are grading

Example response structure:
{
    "results": [
        {
            "expectedOutcome": "<one of the expected outcomes from the input>",
            "reasoning": "<reasoning trace>",
            "metExpectation": <false or true>,
        }
    ]
}"""
REMINDER = ('Answer again with only the JSON object {"results": [...]}, one entry per expected outcome, each with '
            '"expectedOutcome", "reasoning" and "metExpectation" (true or false).')


def user_prompt(trajectory: list[dict], assertions: list[str]) -> str:
    conversation = "\n".join(f"{m.get('role')}: {m.get('content')}" for m in trajectory)
    return f"conversation:\n{conversation}\n\nexpectedOutcomes:\n{assertions}"


def reader(assertions: list[str]):
    def read(text: str) -> list[dict] | None:
        data = json_object(text)
        results = (data or {}).get("results")
        if not isinstance(results, list) or len(results) < len(assertions):
            return None
        checks = []
        for r in results:
            met = r.get("metExpectation") if isinstance(r, dict) else None
            if isinstance(met, str) and met.lower() in ("true", "false"):
                met = met.lower() == "true"
            if not isinstance(met, bool):
                return None
            checks.append({"assertion": r.get("expectedOutcome"), "met": met, "reasoning": r.get("reasoning")})
        return checks
    return read


async def judge_nl_assertions(judge: Judge, task: dict, trajectory: list[dict]) -> tuple[float, list[dict]]:
    """(NL reward, per-assertion checks) of one finished episode."""
    assertions = list(((task or {}).get("evaluation_criteria") or {}).get("nl_assertions") or [])
    if not assertions:
        return 1.0, []
    verdict = await judge.grade([{"role": "system", "content": SYSTEM_PROMPT},
                                 {"role": "user", "content": user_prompt(trajectory, assertions)}],
                                reader(assertions), REMINDER)
    return (1.0 if all(c["met"] for c in verdict.value) else 0.0), verdict.value

"""BFCL v4 (Berkeley Function Calling Leaderboard): single-turn and multi-turn function calling.

Data: the `bfcl-eval` package's data directory (`BFCL_v4_<category>.json`,
`possible_answer/`, `multi_turn_func_doc/`), read as shipped.
Modes (`extra_params`, EvalScope's names): `is_fc_model: true` sends the docs as
`tools` and reads `tool_calls` (dotted names go out underscored when
`underscore_to_dot`, and are mapped back); `is_fc_model: false` puts the docs in
the system prompt and reads `[f(a=1)]` replies with `ast`.
Scoring: BFCL's AST checker for single-turn, (non-)call detection for the
relevance categories, state + result comparison per turn for multi-turn.
Aggregation: per category, then the leaderboard's groups and weights (see `aggregate`).
"""

from __future__ import annotations

from pathlib import Path

from evalpack.benchmarks.base import Benchmark, Result, Sample, Score
from evalpack.benchmarks.bfcl import prompt_mode
from evalpack.benchmarks.bfcl.backends.noise import noise_path
from evalpack.benchmarks.bfcl.ast_checker import check_calls, has_no_call, is_call_list, language_of
from evalpack.benchmarks.bfcl.data import (
    LIVE, MULTI_TURN, NON_LIVE, RELEVANCE, SUPPORTED, UNSUPPORTED, add_language_hints, load_category)
from evalpack.benchmarks.bfcl.multi_turn import MAX_STEPS_PER_TURN, Session, check_entry
from evalpack.benchmarks.bfcl.tools import decode_tool_calls, to_tools, tool_name
from evalpack.benchmarks.tool_loop import run_tool_loop
from evalpack.errors import UsageError
from evalpack.metrics import accuracy_report
from evalpack.scoring.reasoning import answer_text

# The leaderboard's overall: weights over (non-live AST, live AST, irrelevance, multi-turn, agentic).
OVERALL_WEIGHTS = {"non_live": 10, "live": 10, "irrelevance": 10, "multi_turn": 30, "agentic": 40}
ADDED_FUNCTIONS_FC = "I have added more functions that you can use. What about now?"


class BFCLv4(Benchmark):
    name = "bfcl_v4"  # metadata and args (subsets = data.SUPPORTED): registry.py

    # ----------------------------------------------------------- configuration
    def resolve_args(self, user_args: dict | None) -> dict:
        wanted = (user_args or {}).get("subset_list")
        wanted = [wanted] if isinstance(wanted, str) else (wanted or [])
        blocked = [s for s in wanted if s in UNSUPPORTED]
        if blocked:
            raise UsageError(
                f"--dataset-args: bfcl_v4 category {', '.join(blocked)} is not supported yet "
                "(memory needs its memory backends, web_search needs the internet); "
                f"choose from: {', '.join(SUPPORTED)}")
        user_args = dict(user_args or {})
        if isinstance(user_args.get("extra_params"), dict):
            # EvalScope's web-search key: accepted so its configs work, dropped (never stored)
            user_args["extra_params"] = {k: v for k, v in user_args["extra_params"].items()
                                         if k != "SERPAPI_API_KEY"}
        return super().resolve_args(user_args)

    # ----------------------------------------------------------- data
    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        root = self.root(data_dir, args)
        samples = []
        for category in self.selected_subsets(args):
            for entry in load_category(root, category):
                meta = {"category": category}
                if category in MULTI_TURN:
                    meta.update(functions=entry["function"], missed_function=entry["missed_function"],
                                involved_classes=entry["involved_classes"],
                                initial_config=entry.get("initial_config", {}),
                                noise_file=noise_path(root) if category == "multi_turn_long_context" else None)
                else:
                    meta["functions"] = entry["function"]
                samples.append(Sample(id=entry["id"], subset=category, target=entry.get("ground_truth"),
                                      messages=entry["question"], metadata=meta))
        return samples

    # ----------------------------------------------------------- model
    async def solve(self, sample: Sample, ctx) -> dict:
        fc = bool(ctx.args["extra_params"]["is_fc_model"])
        u2d = bool(ctx.args["extra_params"]["underscore_to_dot"])
        if sample.subset in MULTI_TURN:
            return await self._solve_multi_turn(sample, ctx, fc, u2d)
        functions = add_language_hints(sample.metadata["functions"], sample.subset)
        messages = [dict(m) for m in sample.messages[0]]
        if fc:
            reply = await ctx.chat(messages, tools=to_tools(functions, u2d))
        else:
            reply = await ctx.chat(prompt_mode.with_system_prompt(messages, functions))
        return {"content": reply.content, "tool_calls": reply.tool_calls, "reasoning": reply.reasoning,
                "finish_reason": reply.finish_reason}

    async def _solve_multi_turn(self, sample: Sample, ctx, fc: bool, u2d: bool) -> dict:
        meta = sample.metadata
        functions = list(meta["functions"])
        session = Session(meta["involved_classes"], meta["initial_config"], "long_context" in sample.subset,
                          meta.get("noise_file"))
        messages: list[dict] = []
        turns: list[list[dict]] = []
        force_quit = False
        for index, turn_messages in enumerate(sample.messages):
            turn_messages = [dict(m) for m in turn_messages]
            added = meta["missed_function"].get(str(index))
            if added:
                functions += added
                text = prompt_mode.added_functions_message(added) if not fc else ADDED_FUNCTIONS_FC
                turn_messages = [{"role": "user", "content": text}]
            if index == 0 and not fc:
                turn_messages = prompt_mode.with_system_prompt(turn_messages, functions)
            messages += turn_messages
            steps: list[dict] = []

            async def chat(conversation: list[dict], steps=steps):
                if fc:
                    reply = await ctx.chat(conversation, tools=to_tools(functions, u2d))
                else:
                    reply = await ctx.chat(conversation)
                steps.append({"content": reply.content, "tool_calls": reply.tool_calls})
                conversation.append(reply.message())  # every reply stays, whatever follows
                return reply

            def calls_of(reply, steps=steps) -> list:
                # ValueError ends the turn
                return _decode(steps[-1], fc, functions, u2d, "python", ctx.args.get("reasoning_tags"))

            def results_messages(reply, calls: list, results: list[str]) -> list[dict]:
                if fc:
                    return [{"role": "tool", "tool_call_id": tc.get("id"), "content": result}
                            for tc, result in zip(reply.tool_calls, results)]
                return [prompt_mode.tool_results_message([_call_text(c) for c in calls], results)]

            # BFCL force-quits an entry whose turn still calls tools after MAX_STEPS_PER_TURN steps
            result = await run_tool_loop(chat, messages, execute=session.run, max_steps=MAX_STEPS_PER_TURN + 1,
                                         calls_of=calls_of, messages_of=results_messages)
            force_quit = result.end == "step_limit"
            turns.append(steps)
            if force_quit:
                break
        return {"turns": turns, "force_quit": force_quit}

    # ----------------------------------------------------------- scoring
    def score(self, sample: Sample, output: dict, args: dict) -> Score:
        fc = bool(args["extra_params"]["is_fc_model"])
        u2d = bool(args["extra_params"]["underscore_to_dot"])
        functions = sample.metadata["functions"]
        category = sample.subset
        if category in MULTI_TURN:
            return self._score_multi_turn(sample, output, fc, u2d, args.get("reasoning_tags"))
        if category in RELEVANCE:
            try:
                decoded = _decode(output, fc, functions, u2d, "python", args.get("reasoning_tags"))
                called = not has_no_call(decoded)
            except ValueError:
                decoded, called = None, False
            correct = called if category == "live_relevance" else not called
            return Score(float(correct), extracted=decoded, detail={"called": called})
        try:
            decoded = _decode(output, fc, functions, u2d, language_of(category), args.get("reasoning_tags"))
        except ValueError as e:
            return Score(0.0, unparsed=True, detail={"error_type": "ast_decoder:decoder_failed", "error": str(e)})
        if not is_call_list(decoded):
            return Score(0.0, extracted=str(decoded), unparsed=True,
                         detail={"error_type": "ast_decoder:decoder_wrong_output_format"})
        result = check_calls(functions, decoded, sample.target, category)
        detail = {} if result.valid else {"error_type": result.error_type, "errors": result.errors[:5]}
        return Score(float(result.valid), extracted=decoded, detail=detail)

    def _score_multi_turn(self, sample: Sample, output: dict, fc: bool, u2d: bool, tags=None) -> Score:
        meta = sample.metadata
        every_function = list(meta["functions"]) + [f for fs in meta["missed_function"].values() for f in fs]
        decoded_turns = []
        for steps in output.get("turns") or []:
            decoded_steps = []
            for step in steps:
                try:
                    calls = _decode(step, fc, every_function, u2d, "python", tags)
                except ValueError:
                    continue
                if calls and is_call_list(calls):
                    decoded_steps.append(calls)
            decoded_turns.append(decoded_steps)
        if output.get("force_quit"):
            return Score(0.0, detail={"error_type": "multi_turn:force_terminated",
                                      "error": f"more than {MAX_STEPS_PER_TURN} steps in one turn"})
        entry = {"id": sample.id, "involved_classes": meta["involved_classes"],
                 "initial_config": meta["initial_config"], "noise_file": meta.get("noise_file")}
        verdict = check_entry(entry, decoded_turns, sample.target)
        detail = {} if verdict.valid else {"error_type": verdict.error_type, "error": verdict.message,
                                           **verdict.details}
        return Score(float(verdict.valid), detail=detail)

    # ----------------------------------------------------------- aggregation
    def aggregate(self, results: list[Result], args: dict) -> dict:
        """Per-category accuracy, then the leaderboard's summary (BFCL `eval_runner_helper`):

        * non_live: mean of simple (itself the mean of simple_python/java/javascript), multiple,
          parallel, parallel_multiple (unweighted);
        * live: live_simple/multiple/parallel/parallel_multiple weighted by their entry counts;
        * irrelevance: mean of irrelevance and live_irrelevance; relevance: live_relevance;
        * multi_turn: mean of the four multi-turn categories (unweighted);
        * overall: 10 non_live + 10 live + 10 irrelevance + 30 multi_turn + 40 agentic, over 100.
          Agentic (memory, web search) is not run here and counts 0, as a missing category does
          on the leaderboard, so `overall` is at most 0.6; `overall_supported` renormalises the
          weights over the four groups evalpack runs (10/10/10/30 over 60).
        A group is reported only when all its categories were run.
        """
        report = accuracy_report(results)
        acc = {row["name"]: row for row in report["subsets"]}

        def mean(names):
            if all(n in acc for n in names):
                return sum(acc[n]["score"] for n in names) / len(names)
            return None

        simple = mean(("simple_python", "simple_java", "simple_javascript"))
        groups: dict[str, float | None] = {}
        groups["non_live_simple"] = simple
        parts = ("multiple", "parallel", "parallel_multiple")
        groups["non_live"] = ((simple + sum(acc[n]["score"] for n in parts)) / 4
                              if simple is not None and all(n in acc for n in parts) else None)
        live_ast = LIVE[:4]
        groups["live"] = (sum(acc[n]["score"] * acc[n]["num"] for n in live_ast) /
                          sum(acc[n]["num"] for n in live_ast)) if all(n in acc for n in live_ast) else None
        groups["irrelevance"] = mean(("irrelevance", "live_irrelevance"))
        groups["relevance"] = mean(("live_relevance",))
        groups["multi_turn"] = mean(MULTI_TURN)
        needed = ("non_live", "live", "irrelevance", "multi_turn")
        if all(groups[g] is not None for g in needed):
            total = sum(OVERALL_WEIGHTS.values())
            groups["overall"] = sum(groups[g] * OVERALL_WEIGHTS[g] for g in needed) / total
            groups["overall_supported"] = (sum(groups[g] * OVERALL_WEIGHTS[g] for g in needed) /
                                           sum(OVERALL_WEIGHTS[g] for g in needed))
        report["metrics"].update({k: v for k, v in groups.items() if v is not None})
        if "overall_supported" in groups:
            report["score"] = groups["overall_supported"]
            report["metrics"]["accuracy"] = groups["overall_supported"]
        report["groups"]["category_group"] = [
            {"name": g, "score": v, "num": sum(acc[n]["num"] for n in _members(g) if n in acc)}
            for g, v in groups.items() if v is not None and g not in ("overall", "overall_supported")]
        return report


def _members(group: str) -> tuple[str, ...]:
    return {"non_live_simple": ("simple_python", "simple_java", "simple_javascript"),
            "non_live": NON_LIVE[:6], "live": LIVE[:4], "irrelevance": ("irrelevance", "live_irrelevance"),
            "relevance": ("live_relevance",), "multi_turn": MULTI_TURN}[group]


def _decode(output: dict, fc: bool, functions: list[dict], u2d: bool, language: str, tags=None) -> list[dict]:
    """A reply as `[{name: {args}}]`; ValueError when it holds no readable call list. In prompt mode
    the calls are read from the answer part only (the one reasoning stripper; `tags`: reasoning_tags)."""
    if fc:
        try:
            calls = decode_tool_calls(output.get("tool_calls"))
        except (TypeError, AttributeError) as e:
            raise ValueError(str(e)) from None
        originals = {tool_name(f["name"], u2d): f["name"] for f in functions}
        return [{originals.get(name, name): args} for call in calls for name, args in call.items()]
    return prompt_mode.decode_reply(answer_text(output.get("content"), tags), language)


def _call_text(call: dict) -> str:
    (name, args), = call.items()
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})"

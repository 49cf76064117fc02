"""BFCL v4 scoring on the real files, in process: the AST checker, (ir)relevance, the
multi-turn backends and checker, prompt-mode parsing, aggregation."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bfcl_replay import UNSATISFIABLE, perfect_calls  # noqa: E402

from evalpack.benchmarks.base import Result, Sample  # noqa: E402
from evalpack.benchmarks.bfcl import prompt_mode  # noqa: E402
from evalpack.benchmarks.bfcl.ast_checker import check_calls, check_one  # noqa: E402
from evalpack.benchmarks.bfcl.backends.noise import noise_path  # noqa: E402
from evalpack.benchmarks.bfcl.benchmark import BFCLv4  # noqa: E402
from evalpack.benchmarks.bfcl.data import LIVE, MULTI_TURN, NON_LIVE, RELEVANCE, load_category  # noqa: E402
from evalpack.benchmarks.bfcl.multi_turn import Session, as_keyword_call, check_entry, parse_call  # noqa: E402
from evalpack.errors import UsageError  # noqa: E402

AST_CATEGORIES = [c for c in NON_LIVE + LIVE if c not in RELEVANCE]



@pytest.fixture(scope="module")
def bfcl_dir(datasets_dir) -> Path:
    return datasets_dir / "bfcl_v4"


@pytest.fixture(scope="module")
def entries(bfcl_dir):
    return {c: load_category(bfcl_dir, c) for c in NON_LIVE + LIVE + MULTI_TURN}


def _doc(entry, answer):
    return next(f for f in entry["function"] if f["name"] == next(iter(answer)))


def check(entry, calls, category):
    return check_calls(entry["function"], calls, entry["ground_truth"], category)


# ------------------------------------------------------------------ single-turn replay
@pytest.mark.parametrize("category", AST_CATEGORIES)
def test_ground_truth_replay_passes_every_satisfiable_entry(entries, category):
    passed, failed = 0, {}
    for entry in entries[category]:
        result = check(entry, perfect_calls(entry, category), category)
        if result.valid:
            passed += 1
        else:
            failed[entry["id"]] = result.error_type
    expected_failures = {k: v for k, v in UNSATISFIABLE.items() if k.rsplit("_", 1)[0] == category}
    assert failed == expected_failures
    assert passed == len(entries[category]) - len(expected_failures) > 0


def _satisfiable(entries, category):
    return [e for e in entries[category] if e["id"] not in UNSATISFIABLE]


def test_changed_string_value_fails(entries):
    tried = 0
    for category in ("simple_python", "multiple", "live_simple"):
        for entry in _satisfiable(entries, category):
            calls = perfect_calls(entry, category)
            (name, args), = calls[0].items()
            accepted = entry["ground_truth"][0][name]
            key = next((k for k, v in args.items() if isinstance(v, str) and all(isinstance(a, str) for a in accepted[k])), None)
            if key is None:
                continue
            args[key] = args[key] + " zq9 different"
            result = check(entry, calls, category)
            assert not result.valid and result.error_type == "value_error:string", entry["id"]
            tried += 1
    assert tried > 500


def test_changed_number_value_fails(entries):
    tried = 0
    for entry in _satisfiable(entries, "simple_python"):
        calls = perfect_calls(entry, "simple_python")
        (name, args), = calls[0].items()
        key = next((k for k, v in args.items() if type(v) is int), None)
        if key is None:
            continue
        args[key] = 10 ** 9 + 7
        assert not check(entry, calls, "simple_python").valid, entry["id"]
        tried += 1
    assert tried > 100


def test_missing_required_parameter_fails(entries):
    tried = 0
    for category in AST_CATEGORIES:
        for entry in _satisfiable(entries, category):
            calls = perfect_calls(entry, category)
            (name, args), = calls[0].items()
            doc = next(f for f in entry["function"] if f["name"] == name)
            key = next((k for k in doc["parameters"].get("required", []) if k in args), None)
            if key is None:
                continue
            del args[key]
            result = check(entry, calls, category)
            assert not result.valid, entry["id"]
            if "parallel" not in category:
                assert result.error_type == "missing_required"
            tried += 1
    assert tried > 2000


def test_unknown_extra_parameter_fails(entries):
    for category in AST_CATEGORIES:
        for entry in _satisfiable(entries, category)[:40]:
            calls = perfect_calls(entry, category)
            next(iter(calls[0].values()))["zz_not_a_parameter"] = 1
            result = check(entry, calls, category)
            assert not result.valid, entry["id"]
            if "parallel" not in category:
                assert result.error_type == "unexpected_param"


def test_wrong_type_fails_and_int_is_promoted_to_float(entries):
    wrong = promoted = 0
    for entry in _satisfiable(entries, "simple_python"):
        (name, params), = entry["ground_truth"][0].items()
        props = entry["function"][0]["parameters"]["properties"]
        for key, spec in props.items():
            accepted = params.get(key, [""])
            value = accepted[0]
            if spec["type"] == "integer" and type(value) is int:
                calls = perfect_calls(entry, "simple_python")
                next(iter(calls[0].values()))[key] = [value]  # a list where an integer belongs
                result = check(entry, calls, "simple_python")
                assert not result.valid and result.error_type.startswith("type_error"), entry["id"]
                wrong += 1
            if spec["type"] == "float" and type(value) is float and value.is_integer():
                calls = perfect_calls(entry, "simple_python")
                next(iter(calls[0].values()))[key] = int(value)
                assert check(entry, calls, "simple_python").valid, entry["id"]
                promoted += 1
    assert wrong > 100 and promoted >= 5


def test_java_and_javascript_values_must_be_source_strings(entries):
    for category in ("simple_java", "simple_javascript"):
        tried = 0
        for entry in _satisfiable(entries, category):
            (name, params), = entry["ground_truth"][0].items()
            props = entry["function"][0]["parameters"]["properties"]
            key = next((k for k, s in props.items() if s["type"] in ("boolean", "Boolean")
                        and k in params and type(params[k][0]) is bool), None)
            if key is None:
                continue
            calls = perfect_calls(entry, category)
            next(iter(calls[0].values()))[key] = params[key][0]  # a JSON bool, not "true"/"false"
            result = check(entry, calls, category)
            assert not result.valid and result.error_type == f"type_error:{'java' if category == 'simple_java' else 'javascript'}"
            tried += 1
        assert tried >= 3


def test_swapped_function_fails(entries):
    tried = 0
    for entry in _satisfiable(entries, "multiple"):
        calls = perfect_calls(entry, "multiple")
        (name, args), = calls[0].items()
        other = next(f["name"] for f in entry["function"] if f["name"] != name)
        result = check(entry, [{other: args}], "multiple")
        assert not result.valid and result.error_type == "wrong_func_name", entry["id"]
        tried += 1
    assert tried == 200


def test_parallel_calls_match_in_any_order_and_all_are_needed(entries):
    for category in ("parallel", "parallel_multiple", "live_parallel"):
        for entry in _satisfiable(entries, category):
            calls = perfect_calls(entry, category)
            # BFCL matches greedily (each answer takes the first call that fits), so order is
            # free when every call fits exactly one answer
            fits = [[check_one(_doc(entry, a), c, a, "python").valid for a in entry["ground_truth"]] for c in calls]
            if all(sum(row) == 1 for row in fits):
                assert check(entry, calls[::-1], category).valid
                assert check(entry, calls[1:] + calls[:1], category).valid
            result = check(entry, calls[:-1], category)
            assert not result.valid and result.error_type == "wrong_count"


# ------------------------------------------------------------------ relevance, modes
def _score(bench, category, entry, output, fc=True):
    args = bench.resolve_args({"extra_params": {"is_fc_model": fc}})
    sample = Sample(id=entry["id"], subset=category, target=entry.get("ground_truth"),
                    metadata={"category": category, "functions": entry["function"]})
    return bench.score(sample, output, args)


def _tool_call(name, arguments):
    import json
    return {"id": "c1", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def test_irrelevance_and_relevance_scored_both_ways(entries):
    bench = BFCLv4()
    for category in RELEVANCE:
        wants_call = category == "live_relevance"
        for entry in entries[category][:30]:
            first = entry["function"][0]["name"].replace(".", "_")
            with_call = {"content": None, "tool_calls": [_tool_call(first, {})]}
            without = {"content": "None of the functions fits.", "tool_calls": None}
            assert _score(bench, category, entry, with_call).value == float(wants_call)
            assert _score(bench, category, entry, without).value == float(not wants_call)
            # prompt mode: `[f()]` is a call, prose and `[]` are not
            assert _score(bench, category, entry, {"content": f"[{entry['function'][0]['name']}()]"},
                          fc=False).value == float(wants_call)
            assert _score(bench, category, entry, {"content": "I can't help."}, fc=False).value == float(not wants_call)
            assert _score(bench, category, entry, {"content": "[]"}, fc=False).value == float(not wants_call)


def test_native_mode_maps_underscored_names_back_and_prompt_mode_reads_calls(entries):
    bench = BFCLv4()
    entry = next(e for e in _satisfiable(entries, "simple_java") if "." in e["function"][0]["name"])
    (name, args), = perfect_calls(entry, "simple_java")[0].items()
    fc_output = {"content": None, "tool_calls": [_tool_call(name.replace(".", "_"), args)]}
    assert _score(bench, "simple_java", entry, fc_output).value == 1.0
    entry = next(e for e in _satisfiable(entries, "simple_python"))
    (name, args), = perfect_calls(entry, "simple_python")[0].items()
    text = "```\n[%s(%s)]\n```" % (name, ", ".join(f"{k}={v!r}" for k, v in args.items()))
    assert _score(bench, "simple_python", entry, {"content": text}, fc=False).value == 1.0
    bad = _score(bench, "simple_python", entry, {"content": "Sure! Let me compute that."}, fc=False)
    assert bad.value == 0.0 and bad.unparsed


def test_prompt_parser_reads_literals_and_never_executes(tmp_path):
    assert prompt_mode.decode_reply('[a.b.f(x=1, y="s", z=[1, -2.5], w={"k": True}), g()]') == [
        {"a.b.f": {"x": 1, "y": "s", "z": [1, -2.5], "w": {"k": True}}}, {"g": {}}]
    marker = tmp_path / "executed"
    calls = prompt_mode.decode_reply(f"[f(x=__import__('pathlib').Path({str(marker)!r}).touch())]")
    assert not marker.exists() and isinstance(calls[0]["f"]["x"], str)
    with pytest.raises(ValueError):
        prompt_mode.decode_reply("I would call f with x=1")
    assert prompt_mode.decode_source_calls(
        'Foo.bar(m=new HashMap<String, Object>() {{ put("a", 1); }}, s="x, y", n=42)') == [
        {"Foo.bar": {"m": 'new HashMap<String, Object>() {{ put("a", 1); }}', "s": "x, y", "n": "42"}}]


def test_unsupported_categories_and_unknown_options_are_usage_errors():
    bench = BFCLv4()
    for name in ("memory_kv", "web_search_base", "memory"):
        with pytest.raises(UsageError, match="not supported yet"):
            bench.resolve_args({"subset_list": [name]})
    with pytest.raises(UsageError, match="extra_params"):
        bench.resolve_args({"extra_params": {"is_fc": True}})
    with pytest.raises(UsageError, match="no subset"):
        bench.resolve_args({"subset_list": ["simple"]})
    assert bench.resolve_args({"extra_params": {"is_fc_model": False, "SERPAPI_API_KEY": "s3cret"}})[
        "extra_params"] == {"is_fc_model": False, "underscore_to_dot": True}


# ------------------------------------------------------------------ multi-turn
def _replay(entry):
    return [[[as_keyword_call(c) for c in turn]] if turn else [] for turn in entry["ground_truth"]]


def test_multi_turn_ground_truth_replay_passes_all_800(entries, bfcl_dir):
    upstream_noise = noise_path(bfcl_dir)
    failed = []
    total = 0
    for category in MULTI_TURN:
        for entry in entries[category]:
            total += 1
            entry = {**entry, "noise_file": upstream_noise}
            if not check_entry(entry, _replay(entry), entry["ground_truth"]).valid:
                failed.append(entry["id"])
    assert total == 800
    # Replay runs the same calls on both sides, so it passes whatever the noise is.
    assert failed == []


def _first_effective_mutation(entry, turns):
    """(turn, call index, mutated turns) for the first call whose result changes when one of
    its string arguments is altered (a wrong call that has no effect cannot be detected)."""
    for t, steps in enumerate(turns):
        for i, call in enumerate(steps[0] if steps else []):
            (name, args), = call.items()
            key = next((k for k, v in args.items() if isinstance(v, str)), None)
            if key is None:
                continue
            broken = copy.deepcopy(turns)
            next(iter(broken[t][0][i].values()))[key] += "_wrong"
            results = []
            for variant in (turns, broken):
                session = Session(entry["involved_classes"], entry["initial_config"], False)
                for u in range(t):
                    for c in (variant[u][0] if variant[u] else []):
                        session.run([c])
                for c in variant[t][0][:i]:
                    session.run([c])
                results.append(session.run([variant[t][0][i]]))
            if results[0] != results[1]:
                return t, broken
    return None


def test_a_wrong_call_in_one_turn_fails_the_entry(entries):
    tried = 0
    for entry in entries["multi_turn_base"]:
        turns = _replay(entry)
        found = _first_effective_mutation(entry, turns)
        if found is None:
            continue
        t, broken = found
        verdict = check_entry(entry, broken, entry["ground_truth"])
        assert not verdict.valid, entry["id"]
        assert verdict.error_type in ("multi_turn:instance_state_mismatch", "multi_turn:execution_response_mismatch")
        # dropping that turn's calls altogether fails too
        silent = copy.deepcopy(turns)
        silent[t] = []
        assert not check_entry(entry, silent, entry["ground_truth"]).valid
        tried += 1
    assert tried > 150


def test_ground_truth_calls_are_parsed_never_evaluated(tmp_path):
    marker = tmp_path / "x"
    with pytest.raises(ValueError):
        parse_call(f"cd(folder=__import__('pathlib').Path({str(marker)!r}).touch())")
    assert parse_call("sort('final_report.pdf')") == ("sort", ["final_report.pdf"], {})
    session = Session(["GorillaFileSystem"], {}, False)
    assert session.call_text("exit()").startswith("Error during execution")
    assert not marker.exists()


def test_backends_follow_the_documented_behaviour():
    fs = Session(["GorillaFileSystem"], {"GorillaFileSystem": {"root": {"home": {"type": "directory", "contents": {
        "docs": {"type": "directory", "contents": {}},
        "a.txt": {"type": "file", "content": "b\na\nc"}}}}}}, False)
    assert fs.call("mv", (), {"source": "a.txt", "destination": "docs"}) == \
        '{"result": "\'a.txt\' moved to \'docs/a.txt\'"}'
    assert fs.call("cd", (), {"folder": "docs/sub"}).startswith('{"error": "cd: docs/sub: Unsupported path')
    fs.call("cd", (), {"folder": "docs"})
    assert fs.call("sort", ("a.txt",)) == '{"sorted_content": "a\\nb\\nc"}'
    assert fs.call("pwd") == '{"current_working_directory": "/home/docs"}'
    travel = Session(["TravelAPI"], {}, False)
    # fare: base 200 (SFO->LAX) x 2 (business) x 2 (digits of 2024-11-15 sum to 16: even)
    assert travel.call("get_flight_cost", (), {"travel_from": "SFO", "travel_to": "LAX",
                                               "travel_date": "2024-11-15", "travel_class": "business"}) == \
        '{"travel_cost_list": [800.0]}'
    car = Session(["VehicleControlAPI"], {}, False)
    assert "All doors must be locked" in car.call("startEngine", (), {"ignitionMode": "START"})
    car.call("lockDoors", (), {"unlock": False, "door": ["driver", "passenger", "rear_left", "rear_right"]})
    car.call("pressBrakePedal", (), {"pedalPosition": 1.0})
    assert car.call("startEngine", (), {"ignitionMode": "START"}).startswith('{"engineState": "running"')
    assert car.states()["VehicleControlAPI"]["engine_state"] == "running"
    math = Session(["MathAPI"], {}, False)
    assert math.call("logarithm", (), {"value": 100, "base": 10, "precision": 5}) == "{'result': mpf('2.0')}"


# ------------------------------------------------------------------ aggregation
def test_aggregate_uses_the_leaderboard_groups_and_weights():
    bench = BFCLv4()
    accuracy = {"simple_python": 1.0, "simple_java": 0.5, "simple_javascript": 0.0, "multiple": 1.0,
                "parallel": 0.5, "parallel_multiple": 0.5, "irrelevance": 1.0, "live_simple": 1.0,
                "live_multiple": 0.0, "live_parallel": 1.0, "live_parallel_multiple": 1.0,
                "live_irrelevance": 0.5, "live_relevance": 1.0, "multi_turn_base": 1.0,
                "multi_turn_miss_func": 0.5, "multi_turn_miss_param": 0.5, "multi_turn_long_context": 0.0}
    sizes = {"live_simple": 3, "live_multiple": 1, "live_parallel": 2, "live_parallel_multiple": 2}
    results = []
    for category, acc in accuracy.items():
        n = sizes.get(category, 2)
        ones = round(acc * n)
        results += [Result(f"{category}_{i}", category, 0, float(i < ones)) for i in range(n)]
    report = bench.aggregate(results, bench.resolve_args(None))
    m = report["metrics"]
    simple = (1.0 + 0.5 + 0.0) / 3
    assert m["non_live"] == pytest.approx((simple + 1.0 + 0.5 + 0.5) / 4)
    assert m["live"] == pytest.approx((3 * 1.0 + 1 * 0.0 + 2 * 1.0 + 2 * 1.0) / 8)  # weighted by size
    assert m["irrelevance"] == pytest.approx(0.75)
    assert m["multi_turn"] == pytest.approx(0.5)
    weighted = 10 * m["non_live"] + 10 * m["live"] + 10 * 0.75 + 30 * 0.5
    assert m["overall"] == pytest.approx(weighted / 100)  # agentic (40) counts 0
    assert m["overall_supported"] == pytest.approx(weighted / 60) == report["score"]
    partial = bench.aggregate([r for r in results if r.subset == "simple_python"], bench.resolve_args(None))
    assert "overall" not in partial["metrics"] and partial["score"] == 1.0


def test_long_context_noise_comes_from_long_context_json_when_present(tmp_path):
    from evalpack.benchmarks.bfcl.backends.noise import UPSTREAM_NAMES, generated_noise

    generated = generated_noise()
    upstream_like = {name: generated[key] for key, name in UPSTREAM_NAMES.items()}
    upstream_like["POPULATE_FILE_EXTENSION"] = ["from_the_json_file.jpg"]
    upstream_like["WATCH_LIST_EXTENSION"] = ["QQQ", "..."]
    (tmp_path / "long_context.json").write_text(__import__("json").dumps(upstream_like))
    assert noise_path(tmp_path) == str(tmp_path / "long_context.json")
    config = {"GorillaFileSystem": {"root": {"r": {"type": "directory", "contents": {
        "leaf": {"type": "directory", "contents": {"log.txt": {"type": "file", "content": "x"}}}}}}},
        "TradingBot": {"authenticated": True}}
    session = Session(["GorillaFileSystem", "TradingBot"], config, True, str(tmp_path / "long_context.json"))
    session.call("cd", (), {"folder": "leaf"})
    assert session.call("ls") == '{"current_directory_content": ["log.txt", "from_the_json_file.jpg"]}'
    assert session.call("cat", (), {"file_name": "log.txt"}) == '{"file_content": "x"}'  # tail-used: unpadded
    assert session.call("get_watchlist") == "['NVDA', 'QQQ', Ellipsis]"  # upstream's trailing `...`
    fallback = Session(["GorillaFileSystem"], config, True, None)
    fallback.call("cd", (), {"folder": "leaf"})
    assert len(__import__("json").loads(fallback.call("ls"))["current_directory_content"]) == 31


# ------------------------------------------------------------------ the agent loop
class _ScriptedModel:
    """A SolveContext whose replies come from a function of (messages, tools); records requests."""

    def __init__(self, args, reply):
        self.args, self.reply, self.requests = args, reply, []

    async def chat(self, messages, tools=None, **params):
        import json

        from evalpack.client import ChatReply

        self.requests.append({"messages": json.loads(json.dumps(messages)), "tools": tools})
        out = self.reply(messages, tools)
        calls = [{"id": f"call_{len(self.requests)}_{i}", "type": "function",
                  "function": {"name": n, "arguments": a if isinstance(a, str) else json.dumps(a)}}
                 for i, (n, a) in enumerate(out.get("calls", []))] or None
        return ChatReply(content=out.get("content"), tool_calls=calls)


def _multi_turn_sample(bench, bfcl_dir, category, entry_id, fc=True):
    args = bench.resolve_args({"subset_list": [category], "extra_params": {"is_fc_model": fc}})
    sample = next(s for s in bench.load(bfcl_dir.parent, args) if s.id == entry_id)
    return args, sample


def test_miss_func_adds_the_withheld_functions_at_their_turn(bfcl_dir, entries):
    import asyncio

    bench = BFCLv4()
    entry = entries["multi_turn_miss_func"][0]
    (turn, names), = [(int(t), [f["name"] for f in fs]) for t, fs in entry["missed_function"].items()]
    args, sample = _multi_turn_sample(bench, bfcl_dir, "multi_turn_miss_func", entry["id"])
    model = _ScriptedModel(args, lambda messages, tools: {"content": "ok"})
    output = asyncio.run(bench.solve(sample, model))
    offered = [{t["function"]["name"] for t in r["tools"]} for r in model.requests]
    assert len(offered) == len(entry["question"])  # one text reply per turn
    for i, tools in enumerate(offered):
        assert all((name in tools) == (i >= turn) for name in names), i
    assert "more functions" in model.requests[turn]["messages"][-1]["content"]
    assert bench.score(sample, output, args).value == 0.0  # it never called anything


def test_agent_loop_feeds_results_back_and_stops_runaway_turns(bfcl_dir, entries):
    import asyncio

    bench = BFCLv4()
    entry = entries["multi_turn_base"][0]
    args, sample = _multi_turn_sample(bench, bfcl_dir, "multi_turn_base", entry["id"])
    model = _ScriptedModel(args, lambda messages, tools: {"calls": [("pwd", {}), ("no_such_tool", {"x": 1})]})
    output = asyncio.run(bench.solve(sample, model))
    assert output["force_quit"] is True and len(output["turns"]) == 1 and len(output["turns"][0]) == 21
    tool_messages = [m for m in model.requests[1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_1_0", "call_1_1"]
    assert tool_messages[0]["content"] == '{"current_working_directory": "/workspace"}'
    assert tool_messages[1]["content"] == "Error during execution: name 'no_such_tool' is not defined"
    score = bench.score(sample, output, args)
    assert score.value == 0.0 and score.detail["error_type"] == "multi_turn:force_terminated"
    # arguments that are not JSON end the turn (the reply cannot be decoded), as in BFCL
    model = _ScriptedModel(args, lambda messages, tools: {"calls": [("pwd", "{not json")]})
    output = asyncio.run(bench.solve(sample, model))
    assert [len(t) for t in output["turns"]] == [1] * len(entry["question"])


def test_prompt_mode_agent_loop_sends_results_as_a_user_message(bfcl_dir, entries):
    import asyncio

    bench = BFCLv4()
    entry = entries["multi_turn_base"][0]
    args, sample = _multi_turn_sample(bench, bfcl_dir, "multi_turn_base", entry["id"], fc=False)

    def reply(messages, tools):
        assert tools is None
        return {"content": "Done."} if messages[-1]["content"].startswith("[{") else {"content": "[pwd()]"}

    model = _ScriptedModel(args, reply)
    asyncio.run(bench.solve(sample, model))
    first = model.requests[0]["messages"]
    assert first[0]["role"] == "system" and '"name": "pwd"' in first[0]["content"]
    assert model.requests[1]["messages"][-1] == {
        "role": "user", "content": repr([{"role": "tool", "name": "pwd()",
                                          "content": '{"current_working_directory": "/workspace"}'}])}

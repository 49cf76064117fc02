"""The adapter: an OpenAI-compatible /v1 in front of text-only backends.

Fake backends are real aiohttp servers on 127.0.0.1 (a generic prompt->text API and
TGI- and Triton-shaped ones, replying from scripts); the adapter runs as a real
subprocess (`python -m evalpack.adapter`), and clients talk real HTTP to it, through
the `openai` SDK where the issue asks for it. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web

from evalpack.adapter.chat_template import get_template
from evalpack.adapter.presets import Generation, make_preset, parse_fields
from evalpack.adapter.tool_emulation import flatten_messages, parse_tool_calls
from evalpack.errors import UsageError

MODEL = "my-model"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeBackend:
    """An aiohttp app on a free 127.0.0.1 port, in its own thread; records every request.

    `responder(path, body)` returns (status, JSON document, headers) or a number of
    seconds to sleep before answering (to provoke timeouts).
    """

    def __init__(self):
        self.requests: list[dict] = []
        self.in_flight = self.most_in_flight = 0
        self.responder = lambda path, body: (200, {"text": "ok"}, {})
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "fake backend did not start"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"path": request.path, "body": body, "headers": dict(request.headers)})
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            answer = self.responder(request.path, body)
            if isinstance(answer, (int, float)):
                await asyncio.sleep(answer)
                answer = (200, {"text": "slept"}, {})
        finally:
            self.in_flight -= 1
        status, document, headers = answer
        if isinstance(document, str):  # a plain-text backend
            return web.Response(text=document, status=status, headers=headers)
        return web.json_response(document, status=status, headers=headers)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self.loop.run_forever()

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class Adapter:
    """`python -m evalpack.adapter ...` as a subprocess, ready once /health answers."""

    def __init__(self, *args: str, command: tuple[str, ...] = ("evalpack.adapter",)):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/v1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *command, "--port", str(self.port), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"adapter exited: {self.proc.stderr.read()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        self.close()
        raise AssertionError("adapter did not start within 30 s")

    def close(self) -> str:
        """Stop the adapter; returns everything it printed."""
        self.proc.terminate()
        try:
            out, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return out + err


def post(url: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def backend():
    fake = FakeBackend()
    yield fake
    fake.close()


@pytest.fixture()
def fresh(backend):
    backend.requests.clear()
    backend.responder = lambda path, body: (200, {"text": "ok"}, {})
    return backend


@pytest.fixture(scope="module")
def generic(backend):
    adapter = Adapter("--backend", backend.url("/generate"), "--preset", "generic", "--model", MODEL,
                      "--timeout", "2")
    yield adapter
    adapter.close()


@pytest.fixture()
def openai_client(generic):
    import openai
    return openai.OpenAI(base_url=generic.base, api_key="unused", max_retries=0, timeout=30)


WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"type": "string", "enum": ["c", "f"]}},
                   "required": ["city"]}}}

CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "My name is Ada."},
    {"role": "assistant", "content": "Hello Ada."},
    {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]},
]


# ---- the whole conversation reaches the backend ------------------------------------

def test_multi_turn_conversation_reaches_generic_backend_whole(fresh, generic):
    fresh.responder = lambda path, body: (200, {"text": "Your name is Ada."}, {})
    status, reply = post(generic.base + "/chat/completions",
                         {"model": MODEL, "messages": CONVERSATION, "max_tokens": 50, "temperature": 0})
    assert status == 200, reply
    assert reply["choices"][0]["message"] == {"role": "assistant", "content": "Your name is Ada."}
    assert reply["choices"][0]["finish_reason"] == "stop"
    sent = fresh.requests[-1]
    assert sent["path"] == "/generate"
    assert sent["body"] == {
        "prompt": "<|im_start|>system\nYou are terse.<|im_end|>\n"
                  "<|im_start|>user\nMy name is Ada.<|im_end|>\n"
                  "<|im_start|>assistant\nHello Ada.<|im_end|>\n"
                  "<|im_start|>user\nWhat is my name?<|im_end|>\n"
                  "<|im_start|>assistant\n",
        "max_new_tokens": 50, "temperature": 0}
    usage = reply["usage"]
    assert usage["estimated"] is True  # this backend reports no token counts
    assert usage["prompt_tokens"] > 20 and usage["completion_tokens"] >= 4
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_reply_is_cut_at_the_end_of_turn_and_request_stops(fresh, generic):
    fresh.responder = lambda path, body: (200, {"text": "Paris.<|im_end|>\n<|im_start|>user\nmore"}, {})
    status, reply = post(generic.base + "/chat/completions",
                         {"messages": [{"role": "user", "content": "Capital of France?"}]})
    assert status == 200 and reply["choices"][0]["message"]["content"] == "Paris."
    fresh.responder = lambda path, body: (200, {"text": "Answer: B\nExplanation: long"}, {})
    status, reply = post(generic.base + "/chat/completions",
                         {"messages": [{"role": "user", "content": "Pick"}], "stop": "\n"})
    assert reply["choices"][0]["message"]["content"] == "Answer: B"
    assert "max_new_tokens" not in fresh.requests[-1]["body"]  # unset: the backend's default


def test_tgi_preset_llama3_template_and_reported_usage(fresh):
    def tgi(path, body):
        return (200, {"generated_text": " 42", "details": {"finish_reason": "length",
                                                           "generated_tokens": 7}},
                {"x-prompt-tokens": "31", "x-generated-tokens": "7"})
    fresh.responder = tgi
    adapter = Adapter("--backend", fresh.url("/generate"), "--preset", "tgi", "--model", MODEL,
                      "--chat-template", "llama3")
    try:
        status, reply = post(adapter.base + "/chat/completions", {
            "model": MODEL, "max_tokens": 7, "temperature": 0, "seed": 3,
            "messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "6*7?"}]})
    finally:
        adapter.close()
    assert status == 200, reply
    assert fresh.requests[-1]["body"] == {
        "inputs": "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\n6*7?<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n",
        "parameters": {"details": True, "max_new_tokens": 7, "do_sample": False, "seed": 3,
                       "stop": ["<|eot_id|>", "<|eom_id|>"]}}
    choice = reply["choices"][0]
    assert choice["message"]["content"] == " 42" and choice["finish_reason"] == "length"
    assert reply["usage"] == {"prompt_tokens": 31, "completion_tokens": 7, "total_tokens": 38}


def test_triton_preset_strips_echoed_prompt(fresh):
    fresh.responder = lambda path, body: (200, {"model_name": "ensemble", "model_version": "1",
                                                "text_output": body["text_input"] + "Blue."}, {})
    adapter = Adapter("--backend", fresh.url("/v2/models/ensemble/generate"), "--preset", "triton",
                      "--model", MODEL)
    try:
        status, reply = post(adapter.base + "/chat/completions", {
            "messages": [{"role": "user", "content": "Sky colour?"}], "max_tokens": 5,
            "temperature": 0.5, "top_p": 0.9})
    finally:
        adapter.close()
    assert status == 200, reply
    sent = fresh.requests[-1]
    assert sent["path"] == "/v2/models/ensemble/generate"
    assert sent["body"] == {"text_input": "<|im_start|>user\nSky colour?<|im_end|>\n<|im_start|>assistant\n",
                            "max_tokens": 5, "temperature": 0.5, "top_p": 0.9,
                            "stop_words": ["<|im_end|>"]}
    assert reply["choices"][0]["message"]["content"] == "Blue."


def test_template_preset_with_nested_fields_and_usage_paths(fresh, tmp_path):
    template = tmp_path / "request.json"
    template.write_text(json.dumps({
        "model": "{{model}}", "input": {"text": "{{ prompt }}", "note": "for {{model}}"},
        "options": {"num_predict": "{{max_tokens}}", "temperature": "{{temperature}}",
                    "stop": "{{stop}}"}}))
    fresh.responder = lambda path, body: (200, {"result": {"outputs": [{"content": "Hi!"}]},
                                                "meta": {"in": 11, "out": 2}}, {})
    adapter = Adapter("--backend", fresh.url("/api/run"), "--preset", "template", "--model", MODEL,
                      "--request-template", str(template), "--reply-path", "$.result.outputs[0].content",
                      "--field", "prompt_tokens=meta.in", "--field", "completion_tokens=meta.out")
    try:
        status, reply = post(adapter.base + "/chat/completions",
                             {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 9})
    finally:
        adapter.close()
    assert status == 200, reply
    assert fresh.requests[-1]["body"] == {
        "model": MODEL,
        "input": {"text": "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n",
                  "note": f"for {MODEL}"},
        "options": {"num_predict": 9, "stop": ["<|im_end|>"]}}  # unset temperature dropped
    assert reply["choices"][0]["message"]["content"] == "Hi!"
    assert reply["usage"] == {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}


# ---- streaming with the openai SDK --------------------------------------------------

def test_streaming_with_openai_sdk(fresh, openai_client):
    text = "The quick brown fox jumps over the lazy dog and keeps running far away."
    fresh.responder = lambda path, body: (200, {"text": text}, {})
    stream = openai_client.chat.completions.create(
        model=MODEL, messages=CONVERSATION, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1 and "".join(pieces) == text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].usage.total_tokens > 0 and chunks[-1].choices == []
    # the conversation was sent whole in streaming mode too
    assert "My name is Ada." in fresh.requests[-1]["body"]["prompt"]


def test_streamed_tool_calls_with_openai_sdk(fresh, openai_client):
    fresh.responder = lambda path, body: (
        200, {"text": '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}'}, {})
    stream = openai_client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Weather in Oslo?"}], tools=[WEATHER_TOOL],
        stream=True)
    calls, finish = {}, None
    for chunk in stream:
        choice = chunk.choices[0]
        for delta in choice.delta.tool_calls or []:
            entry = calls.setdefault(delta.index, {"name": "", "arguments": ""})
            entry["name"] += delta.function.name or ""
            entry["arguments"] += delta.function.arguments or ""
        finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert [(c["name"], json.loads(c["arguments"])) for c in calls.values()] == [
        ("get_weather", {"city": "Oslo"})]


# ---- tool-call emulation end to end --------------------------------------------------

def test_tool_call_round_trip_with_openai_sdk(fresh, openai_client):
    replies = iter([
        # prose and a code fence around two calls, arguments once as a JSON string
        'I will look both up.\n```json\n[{"name": "get_weather", "arguments": {"city": "Oslo"}},\n'
        ' {"name": "get_weather", "arguments": "{\\"city\\": \\"Rome\\", \\"unit\\": \\"c\\"}"}]\n```',
        "Oslo is 3 degrees and Rome is 18 degrees.",
    ])
    fresh.responder = lambda path, body: (200, {"text": next(replies)}, {})
    messages = [{"role": "user", "content": "Weather in Oslo and Rome?"}]
    first = openai_client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert [(c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls] == [
        ("get_weather", {"city": "Oslo"}), ("get_weather", {"city": "Rome", "unit": "c"})]
    assert len({c.id for c in choice.message.tool_calls}) == 2
    first_prompt = fresh.requests[-1]["body"]["prompt"]
    assert first_prompt.startswith("<|im_start|>system\n")  # instruction in a system turn
    assert json.dumps(WEATHER_TOOL["function"]) in first_prompt  # the schema itself
    assert '"tool_calls"' in first_prompt

    messages.append(choice.message.model_dump(exclude_none=True))
    for call, result in zip(choice.message.tool_calls, ("3 C", "18 C")):
        messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    second = openai_client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "Oslo is 3 degrees and Rome is 18 degrees."
    prompt = fresh.requests[-1]["body"]["prompt"]
    # the earlier calls are written back in the instructed JSON form, results after them
    assert ('<|im_start|>assistant\n{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}, '
            '{"name": "get_weather", "arguments": {"city": "Rome", "unit": "c"}}]}<|im_end|>\n'
            "<|im_start|>user\n<tool_response>\n3 C\n</tool_response>\n"
            "<tool_response>\n18 C\n</tool_response><|im_end|>\n<|im_start|>assistant\n") in prompt


def test_tool_choice_none_sends_no_tools_and_parses_none(fresh, generic):
    fresh.responder = lambda path, body: (200, {"text": '{"name": "get_weather", "arguments": {}}'}, {})
    status, reply = post(generic.base + "/chat/completions", {
        "messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER_TOOL], "tool_choice": "none"})
    assert status == 200
    assert reply["choices"][0]["finish_reason"] == "stop"
    assert "get_weather" not in fresh.requests[-1]["body"]["prompt"]


# ---- errors -----------------------------------------------------------------------

def test_backend_500_becomes_openai_502(fresh, generic, openai_client):
    import openai

    fresh.responder = lambda path, body: (500, {"detail": "CUDA out of memory"}, {})
    status, reply = post(generic.base + "/chat/completions", {"messages": [{"role": "user", "content": "x"}]})
    assert status == 502
    assert reply["error"]["type"] == "server_error" and reply["error"]["code"] == "backend_error"
    assert "CUDA out of memory" in reply["error"]["message"]
    with pytest.raises(openai.APIStatusError) as raised:
        openai_client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert raised.value.status_code == 502 and "CUDA out of memory" in raised.value.message


def test_backend_timeout_becomes_504(fresh, generic):
    fresh.responder = lambda path, body: 4.0  # the adapter waits 2 s (--timeout 2)
    status, reply = post(generic.base + "/chat/completions", {"messages": [{"role": "user", "content": "x"}]})
    assert status == 504
    assert reply["error"]["code"] == "backend_timeout" and "2 s" in reply["error"]["message"]


def test_backend_rejection_and_bad_reply_shapes(fresh, generic):
    fresh.responder = lambda path, body: (422, {"error": "Input validation error: `inputs` tokens + "
                                                         "`max_new_tokens` must be <= 4096",
                                                "error_type": "validation"}, {})
    status, reply = post(generic.base + "/chat/completions", {"messages": [{"role": "user", "content": "x"}]})
    assert status == 400 and reply["error"]["type"] == "invalid_request_error"
    assert "must be <= 4096" in reply["error"]["message"]
    fresh.responder = lambda path, body: (200, {"generated_text": "wrong preset"}, {})
    status, reply = post(generic.base + "/chat/completions", {"messages": [{"role": "user", "content": "x"}]})
    assert status == 502 and reply["error"]["code"] == "bad_backend_response"
    assert "generated_text" in reply["error"]["message"]  # names the keys it did get


def test_unreachable_backend_is_502():
    adapter = Adapter("--backend", f"http://127.0.0.1:{free_port()}/generate", "--model", MODEL)
    try:
        status, reply = post(adapter.base + "/chat/completions", {"messages": [{"role": "user", "content": "x"}]})
    finally:
        adapter.close()
    assert status == 502 and reply["error"]["code"] == "backend_unreachable"


def test_client_errors_are_openai_shaped(fresh, generic):
    status, reply = post(generic.base + "/chat/completions",
                         {"model": "other", "messages": [{"role": "user", "content": "x"}]})
    assert status == 404 and reply["error"]["code"] == "model_not_found"
    status, reply = post(generic.base + "/chat/completions", {"messages": []})
    assert status == 400 and reply["error"]["type"] == "invalid_request_error"
    status, reply = post(generic.base + "/chat/completions",
                         {"messages": [{"role": "user", "content": "x"}], "max_tokens": "many"})
    assert status == 400 and reply["error"]["param"] == "max_tokens"
    status, reply = post(generic.base + "/nothing", {})
    assert status == 404 and "error" in reply
    assert fresh.requests == []  # none of these reached the backend
    with urllib.request.urlopen(generic.base + "/models", timeout=10) as response:
        models = json.loads(response.read())
    assert [m["id"] for m in models["data"]] == [MODEL]


def test_api_key_is_required_when_set(fresh):
    adapter = Adapter("--backend", fresh.url("/generate"), "--model", MODEL, "--api-key", "s3cret",
                      "--backend-header", "Authorization: Bearer backend-token")
    try:
        status, reply = post(adapter.base + "/chat/completions", {"messages": [{"role": "user", "content": "x"}]})
        assert status == 401 and reply["error"]["type"] == "authentication_error"
        status, reply = post(adapter.base + "/chat/completions", {"messages": [{"role": "user", "content": "x"}]},
                             headers={"Authorization": "Bearer s3cret"})
        assert status == 200
    finally:
        printed = adapter.close()
    assert fresh.requests[-1]["headers"]["Authorization"] == "Bearer backend-token"
    assert "evalpack adapter: serving" in printed
    assert "backend-token" not in printed and "s3cret" not in printed


def test_bad_flags_exit_2_with_one_sentence(fresh):
    result = subprocess.run([sys.executable, "-m", "evalpack.adapter", "--backend", fresh.url("/g"),
                             "--model", MODEL, "--field", "prompt"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("evalpack: --field 'prompt'") and "Traceback" not in result.stderr


# ---- pure logic: templates, presets, tool-call parsing --------------------------------

def test_jinja_template_from_tokenizer_config(tmp_path):
    import jinja2  # noqa: F401  (the test extra installs it)
    config = tmp_path / "tokenizer_config.json"
    config.write_text(json.dumps({
        "eos_token": {"content": "</s>"},
        "chat_template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}"
                         "{% if m.tool_calls %}{{ m.tool_calls[0].function.arguments | tojson }}{% endif %}\n"
                         "{% endfor %}{% if tools %}TOOLS={{ tools | length }}{% endif %}"
                         "{% if add_generation_prompt %}[assistant]{% endif %}"}))
    template = get_template(str(config))
    assert template.stop == ["</s>"]
    flat = flatten_messages([{"role": "user", "content": "hi"}], None)
    # trim_blocks, as in transformers: the newline after a block tag is dropped
    assert template.render(flat) == "[user]hi[assistant]"
    native = get_template(str(config), native_tools=True)
    from evalpack.adapter.tool_emulation import native_messages
    messages = native_messages([
        {"role": "user", "content": "w?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather",
                                                           "arguments": '{"city": "Oslo"}'}}]}])
    assert native.render(messages, [WEATHER_TOOL]) == \
        '[user]w?[assistant]{"city": "Oslo"}TOOLS=1[assistant]'
    with pytest.raises(UsageError, match="no file"):
        get_template(str(tmp_path / "missing.jinja"))


def test_generic_preset_fields_are_configurable():
    preset = make_preset("generic", fields=parse_fields(
        ["prompt=inputs", "max_tokens=parameters.max_length", "temperature=", "text=0.generated_text",
         "completion_tokens=0.tokens"]), extra_body={"parameters": {"return_full_text": False}})
    body = preset.body("P", Generation(max_tokens=5, temperature=0.2, stop=["x"]))
    assert body == {"inputs": "P", "parameters": {"return_full_text": False, "max_length": 5}}
    reply = preset.reply([{"generated_text": "out", "tokens": 3}], {})
    assert (reply.text, reply.completion_tokens, reply.prompt_tokens) == ("out", 3, None)
    with pytest.raises(UsageError, match="--field"):
        parse_fields(["answer=x"])


def test_tgi_preset_respects_tgi_limits():
    body = make_preset("tgi").body("P", Generation(temperature=0.7, top_p=1.0,
                                                   stop=["a", "b", "c", "d", "e"]))
    assert body["parameters"] == {"details": True, "do_sample": True, "temperature": 0.7,
                                  "stop": ["a", "b", "c", "d"]}  # top_p=1 is invalid for TGI


TOOLS = [WEATHER_TOOL, {"type": "function", "function": {"name": "add", "parameters": {}}}]


def calls(text):
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in parse_tool_calls(text, TOOLS)]


@pytest.mark.parametrize("text, expected", [
    ('{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]}', [("add", {"a": 1, "b": 2})]),
    ('Sure!\n```json\n{"name": "add", "arguments": {"a": 1}}\n```\nDone.', [("add", {"a": 1})]),
    ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
     '<tool_call>\n{"name": "add", "arguments": "{\\"a\\": 2}"}\n</tool_call>',
     [("get_weather", {"city": "Oslo"}), ("add", {"a": 2})]),
    ('[{"name": "add", "parameters": {"a": 5}}]', [("add", {"a": 5})]),  # Llama 3.1 style
    ("{'name': 'add', 'arguments': {'a': True, 'b': None}}", [("add", {"a": True, "b": None})]),
    ('{"type": "function", "function": {"name": "add", "arguments": "{}"}}', [("add", {})]),
    ('Call: {"name": "get_weather", "arguments": {"city": "It\'s {odd}"}} ok', [("get_weather", {"city": "It's {odd}"})]),
    ("The answer is B.", []),
    ('Here is the record: {"name": "Ada Lovelace", "born": 1815}', []),  # not a declared function
    ('{"name": "delete_all", "arguments": {}}', []),  # bare call of an undeclared function
    ('{"tool_calls": [{"name": "unknown_fn", "arguments": {}}]}', [("unknown_fn", {})]),  # explicit: kept
    ('{"tool_calls": [{"name": "add", "arguments": {"a": 1}', []),  # truncated JSON
])
def test_tool_call_parser_is_tolerant(text, expected):
    assert calls(text) == expected


def test_arguments_that_are_not_json_are_kept_as_given():
    [call] = parse_tool_calls('{"name": "add", "arguments": "a=1"}', TOOLS)
    assert call["function"]["arguments"] == "a=1" and call["type"] == "function"
    assert call["id"].startswith("call_")


def test_instruction_follows_tool_choice():
    flat = flatten_messages([{"role": "system", "content": "Sys."}, {"role": "user", "content": "u"}],
                            [WEATHER_TOOL], {"type": "function", "function": {"name": "get_weather"}})
    assert len(flat) == 2 and flat[0]["content"].startswith("Sys.\n\n")
    assert flat[0]["content"].endswith("You must call the function get_weather in this answer.")
    required = flatten_messages([{"role": "user", "content": "u"}], [WEATHER_TOOL], "required")
    assert required[0]["role"] == "system" and "must call at least one" in required[0]["content"]
    with pytest.raises(UsageError, match="image_url"):
        flatten_messages([{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}], None)


# ---- `evalpack eval` through the adapter ----------------------------------------------

def run_eval(tmp_path: Path, api_url: str, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "evalpack", "eval", "--model", MODEL, "--api-url", api_url,
         "--work-dir", str(tmp_path / "outputs"), "--quiet", *args],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    [report] = (tmp_path / "outputs").glob("*/report.json")
    return json.loads(report.read_text())


def test_mmlu_eval_through_adapter_scores_the_scripted_replies(fresh, datasets_dir, tmp_path):
    import csv

    with open(datasets_dir / "mmlu/data/test/anatomy_test.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r][:5]
    wrong = {r[5]: "ABCD"[("ABCD".index(r[5]) + 1) % 4] for r in rows}
    # Questions 0-2 answered right, 3-4 wrong, in the styles models use (and with text
    # past the end of turn that the adapter must cut): expected accuracy 3/5.
    styles = ["ANSWER: {}", "The answer is ({}).<|im_end|>\n<|im_start|>user\nANSWER: A",
              "Reasoning first.\nANSWER: {}"]

    def mmlu_backend(path, body):
        index = next(i for i, r in enumerate(rows) if r[0] in body["prompt"])
        gold = rows[index][5]
        letter = gold if index < 3 else wrong[gold]
        return 200, {"text": styles[index % 3].format(letter)}, {}

    fresh.responder = mmlu_backend
    adapter = Adapter("--backend", fresh.url("/generate"), "--preset", "generic", "--model", MODEL,
                      command=("evalpack", "adapter"))  # the subcommand of the main CLI
    try:
        report = run_eval(tmp_path, adapter.base, "--datasets", "mmlu", "--dataset-dir", str(datasets_dir),
                          "--dataset-args", json.dumps({"mmlu": {"subset_list": ["anatomy"], "few_shot_num": 0}}),
                          "--limit", "5", "--generation-config", json.dumps({"temperature": 0, "max_tokens": 64}))
    finally:
        adapter.close()
    [section] = report["datasets"]
    assert section["num_samples"] == 5 and section["num_errors"] == 0
    assert section["score"] == pytest.approx(0.6)
    prompts = [r["body"]["prompt"] for r in fresh.requests]
    assert len(prompts) == 5
    for prompt in prompts:  # each a one-turn ChatML conversation holding the whole question
        assert prompt.startswith("<|im_start|>user\n") and prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert all(any(r[0] in p and r[1] in p and r[4] in p for p in prompts) for r in rows)
    assert {r["body"]["max_new_tokens"] for r in fresh.requests} == {64}


def test_token_estimate_rules():
    from evalpack.adapter.tokens import estimate_tokens

    assert estimate_tokens("") == 0
    # 2 short words, punctuation runs ", " -> "," and "!" , 3 digits, a 9-letter word = 2
    assert estimate_tokens("Hello, world! 123 calculate") == 1 + 1 + 1 + 1 + 3 + 2
    assert estimate_tokens('{"a": 1}') == 1 + 1 + 1 + 1 + 1  # {" a ": 1 }
    assert estimate_tokens("答案是C") == 4


def test_thinking_is_no_tool_call_and_can_become_reasoning_content():
    from evalpack.adapter.presets import BackendReply
    from evalpack.adapter.server import build_choice

    text = ('Let me think: maybe {"name": "add", "arguments": {"a": 0}}?</think>\n\n'
            '{"name": "add", "arguments": {"a": 1}}')
    generation = Generation(stop=["<|im_end|>"])
    message, finish, _ = build_choice("P", BackendReply(text), generation, TOOLS)
    assert finish == "tool_calls"
    assert [json.loads(c["function"]["arguments"]) for c in message["tool_calls"]] == [{"a": 1}]
    message, finish, usage = build_choice("P", BackendReply("<think>\nhmm</think>\n\nANSWER: C"),
                                          generation, None, reasoning_split=True)
    assert message == {"role": "assistant", "content": "ANSWER: C", "reasoning_content": "hmm"}
    assert usage["estimated"] is True and usage["completion_tokens"] > 3  # thinking counted


def test_reasoning_tags_stream_as_reasoning_content(fresh):
    import openai
    fresh.responder = lambda path, body: (200, {"text": "<think>Two plus two.</think>The sum is 4."}, {})
    adapter = Adapter("--backend", fresh.url("/generate"), "--model", MODEL, "--reasoning-tags")
    try:
        client = openai.OpenAI(base_url=adapter.base, api_key="x", max_retries=0)
        reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "2+2?"}])
        chunks = list(client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "2+2?"}], stream=True))
    finally:
        adapter.close()
    assert reply.choices[0].message.content == "The sum is 4."
    assert reply.choices[0].message.model_extra["reasoning_content"] == "Two plus two."
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas) == "Two plus two."
    assert "".join(d.content or "" for d in deltas) == "The sum is 4."


# ---- a real model: llama.cpp's native /completion API as the backend -------------------

def llama_cpp_adapter(real_model_url: str, *extra: str) -> Adapter:
    """llama.cpp's own prompt->text endpoint is a real in-house-style API: configure the
    generic preset's field names for it."""
    root = real_model_url.rstrip("/").removesuffix("/v1")
    return Adapter("--backend", f"{root}/completion", "--preset", "generic", "--model", MODEL,
                   "--field", "max_tokens=n_predict", "--field", "stop=stop", "--field", "seed=seed",
                   "--field", "text=content", "--field", "prompt_tokens=tokens_evaluated",
                   "--field", "completion_tokens=tokens_predicted", "--field", "finish_reason=stop_type",
                   *extra)


def test_real_model_through_adapter_answers_like_its_own_chat_endpoint(real_model_url):
    """SmolLM2 uses ChatML: the adapter's rendering of a multi-turn conversation must
    give, at temperature 0, exactly the reply and token counts of llama.cpp's own
    /v1/chat/completions (which renders with the model's template)."""
    import openai
    params = {"messages": CONVERSATION[:3] + [{"role": "user", "content": "What is my name? Reply briefly."}],
              "max_tokens": 24, "temperature": 0}
    direct = openai.OpenAI(base_url=real_model_url, api_key="x", max_retries=0, timeout=300)
    expected = direct.chat.completions.create(model="smollm2-135m-instruct", **params)
    adapter = llama_cpp_adapter(real_model_url)
    try:
        client = openai.OpenAI(base_url=adapter.base, api_key="x", max_retries=0, timeout=300)
        got = client.chat.completions.create(model=MODEL, **params)
        streamed = list(client.chat.completions.create(model=MODEL, stream=True, **params))
    finally:
        adapter.close()
    assert got.choices[0].message.content == expected.choices[0].message.content
    assert got.choices[0].message.content.strip()
    assert got.choices[0].finish_reason == expected.choices[0].finish_reason
    assert (got.usage.prompt_tokens, got.usage.completion_tokens) == (
        expected.usage.prompt_tokens, expected.usage.completion_tokens)
    assert "estimated" not in (got.usage.model_extra or {})  # counts came from the backend
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == \
        expected.choices[0].message.content


def test_model_jinja_template_renders_tools_like_llama_cpp(real_model_url):
    """`--tool-mode template` with the server's own tool-aware ChatML template file: the
    adapter's Jinja rendering equals llama.cpp's (POST /apply-template) byte for byte."""
    import jinja2  # noqa: F401  (the test extra installs it)
    from evalpack.adapter.tool_emulation import native_messages

    from conftest import SHARED

    messages = [{"role": "user", "content": "Weather in Oslo?"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c1", "type": "function",
                     "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "3 C"}]
    template = get_template(str(SHARED / "tools/real-model/chatml-tools.jinja"), native_tools=True)
    root = real_model_url.rstrip("/").removesuffix("/v1")
    for tools in ([WEATHER_TOOL], None):
        status, reply = post(f"{root}/apply-template", {"messages": messages, "tools": tools})
        assert status == 200, reply
        assert template.render(native_messages(messages), tools) == reply["prompt"]


def test_llama3_renders_tool_turns_and_jinja_stops_are_found(tmp_path):
    flat = flatten_messages([
        {"role": "user", "content": "w?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "3 C"}], None)
    assert get_template("llama3").render(flat) == (
        "<|start_header_id|>user<|end_header_id|>\n\nw?<|eot_id|>"
        '<|start_header_id|>assistant<|end_header_id|>\n\n{"tool_calls": [{"name": "get_weather", '
        '"arguments": {"city": "Oslo"}}]}<|eot_id|>'
        "<|start_header_id|>ipython<|end_header_id|>\n\n3 C<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n")
    import jinja2  # noqa: F401  (the test extra installs it)
    file = tmp_path / "t.jinja"
    file.write_text("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}")
    assert get_template(str(file)).stop == ["<|im_end|>"]


def test_parallel_tool_calls_false_keeps_the_first_call(fresh, generic):
    fresh.responder = lambda path, body: (200, {"text": '[{"name": "get_weather", "arguments": {"city": "A"}}, '
                                                        '{"name": "get_weather", "arguments": {"city": "B"}}]'}, {})
    request = {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER_TOOL]}
    status, reply = post(generic.base + "/chat/completions", request)
    assert len(reply["choices"][0]["message"]["tool_calls"]) == 2
    status, reply = post(generic.base + "/chat/completions", {**request, "parallel_tool_calls": False})
    assert [json.loads(c["function"]["arguments"]) for c in reply["choices"][0]["message"]["tool_calls"]] == [
        {"city": "A"}]


def test_max_concurrency_caps_parallel_backend_calls(fresh):
    import concurrent.futures

    fresh.responder = lambda path, body: 0.5  # each call holds a backend slot for a while
    adapter = Adapter("--backend", fresh.url("/generate"), "--model", MODEL, "--max-concurrency", "2")
    try:
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda i: post(adapter.base + "/chat/completions", {
                "messages": [{"role": "user", "content": f"q{i}"}]}), range(6)))
    finally:
        adapter.close()
    assert [status for status, _ in results] == [200] * 6
    assert fresh.most_in_flight == 2 and len(fresh.requests) == 6


def test_plain_text_backend_with_root_reply_path(fresh):
    fresh.responder = lambda path, body: (200, "Plain answer.", {"Content-Type": "text/plain"})
    adapter = Adapter("--backend", fresh.url("/generate"), "--model", MODEL, "--reply-path", "$")
    try:
        status, reply = post(adapter.base + "/chat/completions", {"messages": [{"role": "user", "content": "x"}]})
    finally:
        adapter.close()
    assert status == 200 and reply["choices"][0]["message"]["content"] == "Plain answer."


def test_bfcl_simple_python_through_adapter_with_emulated_tool_calls(fresh, datasets_dir, tmp_path):
    """BFCL in native-tools mode against a text-only backend: the adapter puts the tools in
    the prompt and turns the scripted text replies back into `tool_calls`. 7 of the 10
    replies are right (in five different textual forms), 3 wrong: accuracy 0.7."""
    import re

    sys.path.insert(0, str(Path(__file__).parent))
    from bfcl_replay import perfect_calls

    from evalpack.benchmarks.bfcl.data import load_category

    entries = load_category(datasets_dir / "bfcl_v4", "simple_python")[:10]
    by_question = {e["question"][0][-1]["content"]: (i, e) for i, e in enumerate(entries)}

    def reply_text(index: int, name: str, args: dict) -> str:
        call = {"name": name, "arguments": args}
        if index == 3:  # wrong: prose, no call
            return "I cannot help with that calculation."
        if index == 6:  # wrong: one argument changed
            key = next(iter(args))
            value = args[key]
            call["arguments"] = {**args, key: value + 1 if isinstance(value, (int, float)) else f"{value}x"}
        if index == 8:  # wrong: a function that was not offered
            call["name"] = "not_offered"
            return json.dumps({"tool_calls": [call]})
        forms = [lambda: json.dumps({"tool_calls": [call]}),
                 lambda: f"Sure, here is the call:\n```json\n{json.dumps(call)}\n```",
                 lambda: f"<tool_call>\n{json.dumps(call)}\n</tool_call>",
                 lambda: json.dumps([{"name": name, "parameters": args}]),
                 lambda: json.dumps({"tool_calls": [{"name": name, "arguments": json.dumps(args)}]})]
        return forms[(0, 1, 2, None, 3, 4, 1, 2, None, 0)[index]]()  # every form used

    def bfcl_backend(path, body):
        prompt = body["prompt"]
        question = re.findall(r"<\|im_start\|>user\n(.*?)<\|im_end\|>", prompt, re.S)[-1]
        index, entry = by_question[question]
        schema, _ = json.JSONDecoder().raw_decode(prompt.split("Functions:\n", 1)[1])
        (original, args), = perfect_calls(entry, "simple_python")[0].items()
        assert schema["name"] == original.replace(".", "_")  # the tool as the benchmark sent it
        return 200, {"text": reply_text(index, schema["name"], args)}, {}

    fresh.responder = bfcl_backend
    adapter = Adapter("--backend", fresh.url("/generate"), "--model", MODEL, command=("evalpack", "adapter"))
    try:
        report = run_eval(tmp_path, adapter.base, "--datasets", "bfcl_v4", "--dataset-dir", str(datasets_dir),
                          "--dataset-args", json.dumps({"bfcl_v4": {"subset_list": ["simple_python"]}}),
                          "--limit", "10", "--generation-config", json.dumps({"temperature": 0}),
                          "--stream")  # tool calls as SSE deltas, joined by evalpack's client
    finally:
        adapter.close()
    [section] = report["datasets"]
    assert section["num_samples"] == 10 and section["num_errors"] == 0
    assert section["score"] == pytest.approx(0.7)
    assert len(fresh.requests) == 10
    assert all("Functions:\n" in r["body"]["prompt"] and '"tool_calls"' in r["body"]["prompt"]
               for r in fresh.requests)
    [run_dir] = (tmp_path / "outputs").iterdir()
    rows = {json.loads(line)["sample_id"]: json.loads(line)
            for line in (run_dir / "samples" / "bfcl_v4.jsonl").read_text().splitlines()}
    wrong = {entries[i]["id"] for i in (3, 6, 8)}
    assert {sid for sid, row in rows.items() if row["score"] == 0} == wrong

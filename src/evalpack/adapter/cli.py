"""`evalpack adapter ...`: the command line of the adapter (argparse, no heavy imports)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evalpack.errors import UsageError

DESCRIPTION = """\
Serve a text-generation backend (an in-house /generate API, TGI, Triton) as an
OpenAI-compatible /v1 endpoint: the whole conversation is rendered with a chat
template, tool calls are emulated in the prompt and parsed from the reply."""


def add_adapter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", required=True, metavar="URL",
                        help="full URL of the backend's generate endpoint, "
                             "e.g. http://127.0.0.1:9090/generate")
    parser.add_argument("--preset", default="generic", choices=("generic", "tgi", "triton", "template"),
                        help="backend API shape (default: generic prompt->text JSON)")
    parser.add_argument("--model", required=True, help="model name served under /v1/models")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--chat-template", default="chatml", metavar="NAME|FILE",
                        help="chatml (default), llama3, or a Jinja chat template file "
                             "(or a tokenizer_config.json holding one; needs jinja2)")
    parser.add_argument("--tool-mode", default="emulate", choices=("emulate", "template"),
                        help="emulate: tool schemas + JSON-call instruction in the system message "
                             "(default); template: let a model's own Jinja template render tools")
    parser.add_argument("--field", action="append", default=[], metavar="NAME=FIELD",
                        help="field name (dotted JSON path) in the backend's request or reply; NAME "
                             "is prompt, max_tokens, temperature, top_p, stop, seed, text, "
                             "prompt_tokens, completion_tokens or finish_reason; repeatable")
    parser.add_argument("--reply-path", metavar="PATH", help="JSON path of the reply text "
                        "(same as --field text=PATH)")
    parser.add_argument("--request-template", metavar="JSON|FILE",
                        help="--preset template: the request body with {{prompt}}, {{max_tokens}}, ... "
                             "placeholders")
    parser.add_argument("--extra-body", metavar="JSON", help="fixed fields merged into every "
                        "generic/triton request, e.g. '{\"return_full_text\": false}'")
    parser.add_argument("--backend-header", action="append", default=[], metavar="'NAME: VALUE'",
                        help="HTTP header sent to the backend (e.g. authorization); never logged")
    parser.add_argument("--api-key", help="require this bearer token from clients")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for one backend reply (default 600); then HTTP 504")
    parser.add_argument("--max-concurrency", type=int, default=0,
                        help="at most this many backend calls at once (default 0: no limit)")
    parser.add_argument("--default-max-tokens", type=int,
                        help="max tokens when a request sets none (default: the backend's own)")
    parser.add_argument("--reasoning-tags", action="store_true",
                        help="the model thinks in <think>...</think>: send that part as "
                             "reasoning_content and the rest as content")
    parser.add_argument("--stop", action="append", default=[],
                        help="extra stop string, cut from every reply; repeatable")


def add_adapter_parser(subparsers) -> argparse.ArgumentParser:
    """Register `adapter` on the main CLI's subparsers; the command runs `run_adapter(args)`."""
    parser = subparsers.add_parser("adapter", help="serve a non-OpenAI model server behind /v1",
                                   description=DESCRIPTION,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_adapter_arguments(parser)
    parser.set_defaults(func=run_adapter)
    return parser


def _json_arg(value: str | None, flag: str, allow_file: bool = False):
    if value is None:
        return None
    text = value
    if allow_file and not value.lstrip().startswith("{") and Path(value).is_file():
        text = Path(value).read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{flag} is not valid JSON ({exc.msg} at position {exc.pos}); "
                         "give a JSON object" + (" or a file holding one." if allow_file else ".")) from None
    if not isinstance(document, dict):
        raise UsageError(f"{flag} must be a JSON object.")
    return document


def _headers(items: list[str]) -> dict[str, str]:
    headers = {}
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise UsageError("--backend-header must look like 'Name: value'.")
        headers[name.strip()] = value.strip()
    return headers


def build_config(args):
    """argparse namespace -> AdapterConfig (all validation happens here, before serving)."""
    from evalpack.adapter.chat_template import get_template
    from evalpack.adapter.presets import make_preset, parse_fields
    from evalpack.adapter.server import AdapterConfig

    if not args.backend.startswith(("http://", "https://")):
        raise UsageError(f"--backend {args.backend!r} must be an http:// or https:// URL "
                         "of the generate endpoint.")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a TCP port (1-65535).")
    if args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds.")
    fields = parse_fields(args.field)
    if args.reply_path:
        fields["text"] = args.reply_path
    preset = make_preset(args.preset, fields=fields, extra_body=_json_arg(args.extra_body, "--extra-body"),
                         request_template=_json_arg(args.request_template, "--request-template",
                                                    allow_file=True),
                         model=args.model)
    template = get_template(args.chat_template, native_tools=args.tool_mode == "template")
    return AdapterConfig(backend_url=args.backend, preset=preset, template=template, model=args.model,
                         timeout=args.timeout, backend_headers=_headers(args.backend_header),
                         api_key=args.api_key, max_concurrency=max(args.max_concurrency, 0),
                         default_max_tokens=args.default_max_tokens, extra_stop=list(args.stop),
                         reasoning_tags=args.reasoning_tags)


def run_adapter(args) -> int:
    import asyncio

    from evalpack.adapter.server import serve

    config = build_config(args)
    try:
        asyncio.run(serve(config, args.host, args.port))
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # port taken, address not available
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); "
                         "choose another --port/--host.") from None
    return 0

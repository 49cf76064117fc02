"""`python -m evalpack.adapter ...`: the same command as `evalpack adapter ...`."""

import argparse
import sys

from evalpack.adapter.cli import DESCRIPTION, add_adapter_arguments, run_adapter
from evalpack.errors import EvalpackError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="evalpack adapter", description=DESCRIPTION)
    add_adapter_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_adapter(args)
    except EvalpackError as exc:
        print(f"evalpack: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())

"""`evalpack perf`: benchmark a model server (see docs/perf.md). The parser lives in cli.py;
everything else loads only when the command runs."""

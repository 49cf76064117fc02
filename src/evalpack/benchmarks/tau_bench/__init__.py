"""tau-bench (sierra-research/tau-bench): airline and retail agent episodes with a simulated user."""

from evalpack.benchmarks.tau_bench.benchmark import TauBench

__all__ = ["TauBench"]

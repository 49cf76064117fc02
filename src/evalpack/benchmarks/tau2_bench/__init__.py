"""τ²-bench (sierra-research/tau2-bench): airline, retail and telecom agent episodes with a simulated user."""

from evalpack.benchmarks.tau2_bench.benchmark import Tau2Bench

__all__ = ["Tau2Bench"]

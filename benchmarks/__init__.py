"""Benchmark harness: ``python -m benchmarks.run --size small|medium|large``."""

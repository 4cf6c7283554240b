"""Benchmarks of the real engines and the generator; run each as a module (``python -m bench.overhead``)."""

"""Benchmarks: experiment grids, the results store, the report, and the speed benchmark."""

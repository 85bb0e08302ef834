"""Analyses built on the solvers: comparing schedules and methods, latency/memory Pareto fronts."""

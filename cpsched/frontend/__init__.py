"""From a workload and a hardware description to a Problem: load, tile, cost, build."""

"""Reports of a schedule: Gantt chart, memory occupancy, Perfetto trace and a summary."""

"""The formats as plain data: problem, schedule, result, objective grammar, io, errors, graph facts.

The lowest layer: it imports nothing else from cpsched.
"""

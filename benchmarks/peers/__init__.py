"""Peer formulations of the cpsched problem for other solver technologies (issue 7).

Only this package and :mod:`cpsched.cpsat` import ortools.
"""

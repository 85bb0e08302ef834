"""The checking side: the validator, metrics and static infeasibility proofs.

It shares no code with any solver, so one can catch the other: nothing here imports
`cpsched.heuristics` or `cpsched.cpsat`.
"""

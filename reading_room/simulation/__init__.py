"""Pure simulators of AI in the reading room (no Django): numbers in, numbers out.

`population` draws cases from a model's real scores at a prevalence the exercise sets,
`triage` replays a day of a worklist under several reading orders, `screening` works out
what an AI first reader that clears low-scoring cases does to workload and cancers found.
"""

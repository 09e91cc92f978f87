"""One scorer per question kind, found through `registry.scorer_for(kind)`.

Each module implements the small protocol in `base.Scorer`: check the authored `data`,
turn a submitted form into a stored answer (or refuse it with a clear message), and score
a stored answer as (points, feedback). Adding a kind is adding one module and one line in
the registry.
"""

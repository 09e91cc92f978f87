"""No-code model building (issue 8, item 3): a resident picks a labelled cohort, a split,
augmentations, a model size and epochs; a worker trains the model with checkpoints and
limits; the held-out evaluation and a generated model card make it the resident's own
model, which any lab can run under the registry key "trained-<pk>".

Where things are: `lesion_patients` (the lesion cohort as patients with several slices),
`own_studies` (CSV labels, images of library studies), `splits`, `networks`, `trainer`
(the child process that trains), `services` (cohorts, runs, claim/resume/cancel/sweep),
`evaluation`, `trained` (the ZooModel adapter and its card), `plots` (learning curves).
"""

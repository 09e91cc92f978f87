"""The examiner's side of assessment (issue 9).

- Rubrics (Wagtail snippets, `blocks.RubricCriterionBlock`) attached to a question or an
  assessment; `MarkingScheme` per assessment: double marking and its discrepancy threshold.
- `double_marking`: the marking rules as pure functions; `services` applies them to a
  `ResponseMarking` under a row lock and appends every change to the `AuditEntry` log.
- `selectors`: the blind grading queue, `attempt_result` / `response_released_score` (used by
  the assessments app), the gradebook arithmetic and course requirements.
- Certificates: issued synchronously when a release completes a course's requirements (or
  on the resident's request), drawn as PDF on download (`certificate_pdf`), verified in
  public at /certificates/verify/<code>/.
"""

"""The examiner's side of assessment (issue 9).

- Rubrics (Wagtail snippets, `blocks.RubricCriterionBlock`) attached to a question or an
  assessment; `MarkingScheme` per assessment: double marking and its discrepancy threshold.
- `double_marking`: the marking rules as pure functions; `services` applies them to a
  `ResponseMarking` under a row lock and appends every change to the `AuditEntry` log.
- `selectors`: the blind grading queue (examiner-marked answers to mark, automatically
  marked ones of exams to review), `released_points` / `auto_mark_overrides` (registered
  into `assessments.selectors.attempt_marks`, the one reading of an attempt's marks and
  whether they are released), the gradebook arithmetic and course requirements.
- Releasing an exam's marks (`services.assessment_release`) is one audited act: it sets the
  exam's `results_released_at` and releases the agreed examiner marks; an examiner may
  override an automatic mark with a reason (`services.auto_mark_override`, audited).
- Certificates: issued synchronously when a release completes a course's requirements (or
  on the resident's request), drawn as PDF on download (`certificate_pdf`), verified in
  public at /certificates/verify/<code>/.
"""

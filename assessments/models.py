# Question banks, attempts, rubrics and the examiner queue arrive with the assessments work.

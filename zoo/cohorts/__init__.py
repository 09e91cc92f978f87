"""Teaching cohorts built from the real studies: labs and the training lab reuse them."""

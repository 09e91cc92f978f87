"""Metric plug-ins for cohort results (one module each, found through `registry`)."""

"""Ways to break an image on purpose. Each implements `Perturbation`; see `registry`."""

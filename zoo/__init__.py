"""The model zoo: every model implements `ZooModel` and is found through `registry`."""

"""The one exception the grading commands raise for bad input."""


class GradingError(Exception):
    """A problem with the command's input (a missing folder, no notebooks, nbgrader failing)."""

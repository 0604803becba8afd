"""The error a bad setting raises (a variable, or a file one names), shared by the settings and what they load."""


class SettingsError(ValueError):
    """A configuration variable has a value the project cannot run with."""

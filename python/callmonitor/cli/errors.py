class CommandError(Exception):
    """A failure the command reports as one line, with an exit code."""

    def __init__(self, message, exit_code=1):
        super().__init__(message)
        self.exit_code = exit_code

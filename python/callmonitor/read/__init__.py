"""The read stage: open a recorded database and get calls back."""

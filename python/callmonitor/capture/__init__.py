"""The capture stage: @intercept, its settings and the recording session."""

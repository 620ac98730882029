"""Golden replay files of the interpreter: recorded (spec, state, input, now)
and the exact transition expected, one scenario per JSON file (see README.md)."""

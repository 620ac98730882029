"""Settings for the whole suite.

Property tests explore new random examples on every local run, which is how
they find bugs. CI runs them derandomized (``WFC_HYPOTHESIS_PROFILE=ci``, set
by ``.ci/run``): the same examples every time, so a CI result says something
about the change under test, not about the draw. A bug found locally is
fixed, then pinned with an ``@example``.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile(os.environ.get("WFC_HYPOTHESIS_PROFILE", "default"))

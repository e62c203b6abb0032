"""Fixtures of the serving tests.

They and the helpers the tests import live in ``serving_support`` (a module
name no other test folder uses: ``from conftest import ...`` would pick up
whichever folder's conftest was imported first).
"""

from serving_support import (  # noqa: F401 (fixtures are registered by being here)
    credit_models,
    fresh_yard_root,
    holdout,
    live,
    train_frame,
    yard_root,
)

"""Imported by the NLP pool's forkserver (``annotate.start_pool``): loads the model named in the
environment once, before the forkserver forks the pool's processes, so that they all start with it.

Nothing else imports this module. The forkserver ignores an ImportError of a preload module and dies
of any other error, so a model that fails to load here is only logged: each pool process then loads
its own, and fails there with the error a user can act on.
"""

import logging
import os

from transforms.nlp import annotate

_MODEL = os.environ.get(annotate._PRELOAD_ENV)
if _MODEL:
    try:
        annotate.preload_model(_MODEL)
    except Exception:  # noqa: BLE001 - see the module docstring
        logging.getLogger(__name__).exception("the NLP pool's forkserver could not load %s", _MODEL)

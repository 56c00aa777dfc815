"""Loopwise's domain model. Split by theme; every public name is re-exported here."""

from .api import *  # noqa: F403
from .api import __all__ as _api
from .candidates import *  # noqa: F403
from .candidates import __all__ as _candidates
from .operations import *  # noqa: F403
from .operations import __all__ as _operations
from .ops import *  # noqa: F403
from .ops import __all__ as _ops
from .org import *  # noqa: F403
from .org import __all__ as _org
from .people import *  # noqa: F403
from .people import __all__ as _people
from .plans import *  # noqa: F403
from .plans import __all__ as _plans
from .requests import *  # noqa: F403
from .requests import __all__ as _requests

__all__ = [*_org, *_people, *_plans, *_candidates, *_requests, *_ops, *_operations, *_api]

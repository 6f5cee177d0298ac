"""The NLP core: language ID, normalization, tagging, geocoding — pure functions, no Beam.

The hot modules may run compiled (see _accel.py): built from these same sources by setup.sh
and used only while they match them.
"""
from ._accel import compiled_dir_if_current as _compiled_dir

_dir = _compiled_dir()
if _dir is not None:
    __path__.insert(0, str(_dir))

import string
import sys

__all__ = ["format"]


def format(text, *args, **kwargs):
    frame = sys._getframe(1)
    values = dict(frame.f_globals)
    values.update(frame.f_locals)
    values.update(kwargs)
    return string.Formatter().vformat(text, args, values)

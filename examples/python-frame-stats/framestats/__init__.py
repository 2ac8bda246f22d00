"""Brightness and motion statistics over the PNG frames a ``frames`` step sampled.

Pure Python and the standard library (``zlib``, which componentize-py's CPython has), so
it runs natively for tests and inside the component unchanged.
"""

"""The files that ship with Sayso, installed as the package ``sayso_resources`` (see ``setup.py``).

Nothing imports this folder as ``resources``: :mod:`engine.resources` is the one module that locates
these files, through ``importlib.resources``.
"""

"""The one build fact pyproject.toml cannot state: the top-level ``resources/`` folder ships as the package
``sayso_resources`` (the bundled model, samples, icons, examples, confidence calibration tables; not the README's screenshots), found at run
time by :mod:`engine.resources` with ``importlib.resources``. Name, version, dependencies, extras and the
``sayso`` command are in pyproject.toml.
"""
from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["app", "app.*", "engine", "engine.*"]), "sayso_resources"],
    package_dir={"sayso_resources": "resources"},
    package_data={"sayso_resources": ["models/*/*", "samples/*", "icons/*", "examples/*", "calibration/*"]},
    include_package_data=False,
)

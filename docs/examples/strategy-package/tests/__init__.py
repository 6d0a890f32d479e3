"""
The tests of the veterans strategy: run them with
``python -m twisted.trial tests`` from the package's directory.
"""

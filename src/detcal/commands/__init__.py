"""Sub-commands of the ``detcal`` command line, one module per step.

Each module defines ``register(subparsers)``; :func:`detcal.cli.build_parser` imports every
module of this package.
"""

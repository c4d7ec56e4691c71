"""Detector calibration and correction for X-ray and electron imaging.

The core library is GUI-free: ``detcal.io``, ``detcal.response``, ``detcal.flatfield``,
``detcal.tomo`` and ``detcal.sample_data`` import neither napari nor Qt. The napari plugin
lives in ``detcal.napari``.
"""

__version__ = "0.1.0"

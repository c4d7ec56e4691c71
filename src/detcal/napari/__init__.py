"""The napari plugin: reader, writer, sample data and one dock widget per step.

This package is the only place in detcal that imports napari, qtpy or magicgui. Loading it
(napari does when any of its contributions is used) makes detcal napari's reader for ``.zarr``
folders unless the user chose another (:func:`detcal.napari.reader.prefer_detcal_reader`), so
detcal's outputs open without a "which reader?" question.
"""

from detcal.napari.reader import prefer_detcal_reader

prefer_detcal_reader()

"""The napari plugin: reader, writer, sample data and one dock widget per step.

This package is the only place in detcal that imports napari, qtpy or magicgui.
"""

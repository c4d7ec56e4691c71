"""A whole tomography run: raw DXchange/Zarr scan in, reconstructed volume out, streaming.

The public surface of the run, gathered from the modules that do each job:

- :mod:`detcal.tomo.dataset`: the scan (:class:`TomoDataset`), :func:`open_dataset`,
  :func:`dataset_from_arrays`, :func:`write_dxchange`;
- :mod:`detcal.tomo.checks`: :func:`validate_dataset`, before anything is computed;
- :mod:`detcal.tomo.graph`: the lazy graph, :func:`prepare` (:class:`PreparedScan`) and
  :func:`reconstruct_volume`;
- :mod:`detcal.tomo.scan_center`: :func:`find_scan_center`;
- :mod:`detcal.tomo.run`: file to file, :func:`reconstruct_dataset`,
  :func:`write_reconstruction`, :func:`find_dataset_center`, :func:`sweep_dataset` and the
  record beside the output (:func:`sidecar_path`);
- :mod:`detcal.tomo.preview`: one row at a time, for the widget.
"""

from detcal.tomo.checks import validate_dataset
from detcal.tomo.dataset import TomoDataset, dataset_from_arrays, open_dataset, write_dxchange
from detcal.tomo.graph import PreparedScan, prepare, reconstruct_volume
from detcal.tomo.options import ReconOptions, load_options
from detcal.tomo.run import (
    find_dataset_center,
    reconstruct_dataset,
    sidecar_path,
    sweep_dataset,
    write_reconstruction,
)
from detcal.tomo.scan_center import find_scan_center

__all__ = [
    "PreparedScan",
    "ReconOptions",
    "TomoDataset",
    "dataset_from_arrays",
    "find_dataset_center",
    "find_scan_center",
    "load_options",
    "open_dataset",
    "prepare",
    "reconstruct_dataset",
    "reconstruct_volume",
    "sidecar_path",
    "sweep_dataset",
    "validate_dataset",
    "write_dxchange",
    "write_reconstruction",
]

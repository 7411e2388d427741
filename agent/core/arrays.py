"""Array aliases every layer types its numpy code with, and the id of the Unassigned group.

`UNASSIGNED` lives here rather than in the segment step because every layer reads it: the segment
step writes it, and scores, names, answers and exports treat segment 0 as "in no segment".
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["F32", "F64", "UNASSIGNED", "BoolArray", "FloatArray", "IntArray"]

FloatArray = npt.NDArray[np.floating]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# The segment id of customers who belong to no segment.
UNASSIGNED = 0

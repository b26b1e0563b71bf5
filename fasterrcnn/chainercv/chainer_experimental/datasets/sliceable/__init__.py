"""``chainercv.chainer_experimental.datasets.sliceable``: data sets whose
examples are named values, viewed without reading them
(``dataset.slice[indices, keys]``).

:class:`SliceableDataset` is the base; :class:`GetterDataset` is defined
with one getter per value (or group of values), :class:`TupleDataset`,
:class:`TransformDataset` and :class:`ConcatenatedDataset` are the
sliceable versions of Chainer's.
"""

from fasterrcnn.chainercv.chainer_experimental.datasets.sliceable import (
    concatenated_dataset, getter_dataset, sliceable_dataset, transform_dataset,
    tuple_dataset)

SliceableDataset = sliceable_dataset.SliceableDataset
GetterDataset = getter_dataset.GetterDataset
TupleDataset = tuple_dataset.TupleDataset
TransformDataset = transform_dataset.TransformDataset
ConcatenatedDataset = concatenated_dataset.ConcatenatedDataset

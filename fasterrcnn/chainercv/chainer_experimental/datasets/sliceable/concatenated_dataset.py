"""``ConcatenatedDataset``: the sliceable version of
:class:`chainer.datasets.ConcatenatedDataset`."""

from fasterrcnn.chainercv.chainer_experimental.datasets.sliceable import \
    sliceable_dataset


class ConcatenatedDataset(sliceable_dataset.SliceableDataset):
    """Sliceable data sets of the same keys one after the other, as
    chainercv's.

    Args:
        *datasets (SliceableDataset): the data sets, their keys equal.

    Raises:
        ValueError: no data set, or data sets with different keys.
    """

    def __init__(self, *datasets):
        if not datasets:
            raise ValueError('ConcatenatedDataset needs at least one data '
                             'set')
        for dataset in datasets[1:]:
            if dataset.keys != datasets[0].keys:
                raise ValueError(
                    'ConcatenatedDataset: the data sets have different keys '
                    '({} and {})'.format(datasets[0].keys, dataset.keys))
        self._datasets = datasets

    def __len__(self):
        return sum(len(dataset) for dataset in self._datasets)

    @property
    def keys(self):
        return self._datasets[0].keys

    def get_example_by_keys(self, index, key_indices):
        if index < 0:
            index += len(self)
        if index >= 0:
            for dataset in self._datasets:
                if index < len(dataset):
                    return dataset.get_example_by_keys(index, key_indices)
                index -= len(dataset)
        raise IndexError('example index out of range')

"""``TupleDataset``: the sliceable version of
:class:`chainer.datasets.TupleDataset`."""

from fasterrcnn.chainercv.chainer_experimental.datasets.sliceable import \
    sliceable_dataset


class TupleDataset(sliceable_dataset.SliceableDataset):
    """Data sets of one length side by side: example ``i`` holds the values
    of each one's example ``i``, as chainercv's.

    Args:
        *datasets: each one a :class:`SliceableDataset` (its keys are kept),
            a ``(name, values)`` pair, or a sequence of values (a list, an
            array; its key is None).

    Raises:
        ValueError: no data set, or data sets of different lengths.
    """

    def __init__(self, *datasets):
        if not datasets:
            raise ValueError('TupleDataset needs at least one data set')
        # One (dataset index, position in its keys or None) per key.
        self._key_table = []
        self._names = []
        self._datasets = []
        self._len = None
        for dataset in datasets:
            if isinstance(dataset, sliceable_dataset.SliceableDataset):
                for position, name in enumerate(
                        sliceable_dataset.as_tuple(dataset.keys)):
                    self._key_table.append((len(self._datasets), position))
                    self._names.append(name)
            else:
                name = None
                if isinstance(dataset, tuple):
                    name, dataset = dataset
                self._key_table.append((len(self._datasets), None))
                self._names.append(name)
            if self._len is None:
                self._len = len(dataset)
            elif len(dataset) != self._len:
                raise ValueError(
                    'TupleDataset: the data sets have different lengths '
                    '({} and {})'.format(self._len, len(dataset)))
            self._datasets.append(dataset)

    def __len__(self):
        return self._len

    @property
    def keys(self):
        return tuple(self._names)

    def get_example_by_keys(self, index, key_indices):
        # Each sliceable data set is asked once, for all its values wanted.
        wanted = {}
        for k in key_indices:
            dataset, position = self._key_table[k]
            if position is not None:
                wanted.setdefault(dataset, []).append(position)
        got = {}
        for dataset, positions in wanted.items():
            positions = tuple(sorted(set(positions)))
            got.update(zip(((dataset, p) for p in positions),
                           self._datasets[dataset].get_example_by_keys(
                               index, positions)))
        values = []
        for k in key_indices:
            dataset, position = self._key_table[k]
            if position is None:
                values.append(self._datasets[dataset][index])
            else:
                values.append(got[dataset, position])
        return tuple(values)

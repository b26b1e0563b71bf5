"""``TransformDataset``: the sliceable version of
:class:`chainer.datasets.TransformDataset`."""

from fasterrcnn.chainercv.chainer_experimental.datasets.sliceable import (
    getter_dataset, sliceable_dataset)


class TransformDataset(getter_dataset.GetterDataset):
    """A data set's examples passed through a function, with named values,
    as chainercv's.

    ``TransformDataset(dataset, keys, transform)`` or
    ``TransformDataset(dataset, transform)``; without ``keys``, the first
    example is transformed here to count the values (their keys are None).

    Args:
        dataset: has ``__len__`` and ``__getitem__``.
        keys (str or tuple of str): the name of the value ``transform``
            returns, or the names of the values of the tuple it returns.
        transform (callable): takes an example of ``dataset``.
    """

    def __init__(self, dataset, keys, transform=None):
        if transform is None:
            keys, transform = None, keys
        super(TransformDataset, self).__init__()
        self._dataset = dataset
        self._transform = transform
        if keys is None:
            sample = self._get(0)
            keys = (None,) * len(sample) if isinstance(sample, tuple) \
                else None
        self.add_getter(keys, self._get)
        if not sliceable_dataset.is_iterable(keys):
            # Examples that are the single value, not a 1-tuple.
            self.keys = 0

    def __len__(self):
        return len(self._dataset)

    def _get(self, index):
        return self._transform(self._dataset[index])

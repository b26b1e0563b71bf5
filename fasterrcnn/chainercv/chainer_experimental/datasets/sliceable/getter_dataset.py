"""``GetterDataset``: a sliceable data set defined by getters, functions of
an example's index that give one value or a group of values."""

from fasterrcnn.chainercv.chainer_experimental.datasets.sliceable import \
    sliceable_dataset


class GetterDataset(sliceable_dataset.SliceableDataset):
    """A sliceable data set whose values come from getters, as chainercv's.

    A subclass calls ``GetterDataset.__init__`` first, registers its getters
    with :meth:`add_getter` and defines ``__len__``. A view that asks for
    some values calls only the getters that give them, each once per
    example, so a getter that reads a file (an image) is not called for a
    view without its values.

    Setting :attr:`keys` keeps only the values named (an int or a name for
    examples that are that single value), as chainercv's
    ``VOCBboxDataset`` does to leave out ``'difficult'``.
    """

    def __init__(self):
        # One (name, getter index, position in the getter's result or None
        # for a getter of one value) per key, in the keys' order.
        self._key_table = []
        self._getters = []
        self._single_value = False

    @property
    def keys(self):
        names = tuple(name for name, _, _ in self._key_table)
        return names[0] if self._single_value else names

    @keys.setter
    def keys(self, keys):
        positions = sliceable_dataset.key_indices(keys, self.keys)
        self._key_table = [self._key_table[k] for k in positions]
        self._single_value = not sliceable_dataset.is_iterable(keys)

    def add_getter(self, keys, getter):
        """Register a getter.

        Args:
            keys (str or tuple of str): the name of the value ``getter``
                returns, or the names of the values of the tuple it returns.
            getter (callable): ``getter(index)`` gives the value(s) of the
                example ``index``.
        """
        self._getters.append(getter)
        index = len(self._getters) - 1
        if sliceable_dataset.is_iterable(keys):
            self._key_table.extend((name, index, position)
                                   for position, name in enumerate(keys))
        else:
            self._key_table.append((keys, index, None))

    def get_example_by_keys(self, index, key_indices):
        results = {}
        values = []
        for k in key_indices:
            _, getter, position = self._key_table[k]
            if getter not in results:
                results[getter] = self._getters[getter](index)
            result = results[getter]
            values.append(result if position is None else result[position])
        return tuple(values)

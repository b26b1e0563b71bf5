"""The sliceable data set: examples made of named values, and the views
``dataset.slice[indices, keys]`` that read only the values they keep."""

import numbers

import chainer
import numpy


def is_iterable(x):
    """Whether ``x`` names several keys (a string names one)."""
    return not isinstance(x, str) and hasattr(x, '__iter__')


def as_tuple(x):
    """``x`` as a tuple: its items, or ``(x,)`` for a single key."""
    return tuple(x) if is_iterable(x) else (x,)


def _mask_as_indices(items, length, what):
    """``items`` as a list of indices: the places of the True ones when all
    are booleans (then there must be ``length`` of them), else as given."""
    items = list(items)
    if not items or not all(isinstance(item, (bool, numpy.bool_))
                            for item in items):
        return items
    if len(items) != length:
        raise ValueError('{} booleans for {} {}; a mask needs one per '
                         '{}'.format(len(items), length, what + 's', what))
    return [i for i, item in enumerate(items) if item]


def key_indices(keys, names):
    """The positions in ``names`` of ``keys``.

    Args:
        keys: a key, or an iterable of keys: each a name, an int position
            (negative counts from the end), or all of them booleans (one
            per name, True for those kept).
        names (str or tuple): the keys of a data set (a single name for a
            data set whose examples are single values).

    Returns:
        tuple of int: one position per key, in the order given.

    Raises:
        KeyError: a name is not one of ``names``.
        IndexError: a position is out of range.
        ValueError: a mask does not have one boolean per name.
    """
    names = as_tuple(names)
    positions = []
    for key in _mask_as_indices(as_tuple(keys), len(names), 'key'):
        if isinstance(key, numbers.Integral):
            position = int(key) + (len(names) if key < 0 else 0)
            if not 0 <= position < len(names):
                raise IndexError('key index {} is out of range for the {} '
                                 'keys {}'.format(key, len(names), names))
        else:
            try:
                position = names.index(key)
            except ValueError:
                raise KeyError('{!r} is not a key of this data set; its keys '
                               'are {}'.format(key, names)) from None
        positions.append(position)
    return tuple(positions)


class SliceableDataset(chainer.dataset.DatasetMixin):
    """A data set whose examples are named values and that can be sliced,
    as chainercv's.

    A subclass defines ``__len__``, :attr:`keys` and
    :meth:`get_example_by_keys`; :class:`GetterDataset` and
    :class:`TupleDataset` make one easily. ``dataset[i]`` is the whole
    example: a tuple of values, or one value when :attr:`keys` is a single
    name.
    """

    @property
    def keys(self):
        """The names of an example's values: a tuple of names, or one name
        when an example is a single value (a name may be None)."""
        raise NotImplementedError

    def get_example_by_keys(self, index, key_indices):
        """Some values of one example.

        Args:
            index (int): the example.
            key_indices (tuple of int): positions in :attr:`keys` of the
                values wanted.

        Returns:
            tuple: the values, in the order of ``key_indices``.
        """
        raise NotImplementedError

    def get_example(self, index):
        if isinstance(self.keys, tuple):
            return self.get_example_by_keys(
                index, tuple(range(len(self.keys))))
        return self.get_example_by_keys(index, (0,))[0]

    @property
    def slice(self):
        """Views of the data set: ``dataset.slice[indices]`` or
        ``dataset.slice[indices, keys]``.

        ``indices`` is a :class:`slice`, a list (or 1-D array) of ints, or
        a list of booleans with one per example; ``keys`` as in
        :func:`key_indices`: a name or an int gives examples that are that
        one value, a tuple or list of them gives tuples. The view reads
        nothing until an example is asked for, and then only the values it
        keeps.
        """
        return SliceHelper(self)

    def __iter__(self):
        return (self.get_example(i) for i in range(len(self)))


class SliceHelper(object):
    """What ``dataset.slice`` returns: ``[...]`` makes the view."""

    def __init__(self, dataset):
        self._dataset = dataset

    def __getitem__(self, args):
        if isinstance(args, tuple):
            indices, keys = args
        else:
            indices, keys = args, self._dataset.keys
        length = len(self._dataset)
        if isinstance(indices, slice):
            indices = range(length)[indices]
        elif isinstance(indices, numbers.Integral) or not is_iterable(indices):
            raise TypeError(
                'slice[{!r}]: indices must be a slice, a list of ints or a '
                'list of booleans (dataset[i] gives one example)'.format(
                    indices))
        else:
            if isinstance(indices, numpy.ndarray):
                indices = indices.tolist()
            indices = _mask_as_indices(indices, length, 'example')
        positions = key_indices(keys, self._dataset.keys)
        return SlicedDataset(self._dataset, indices,
                             positions if is_iterable(keys) else positions[0])


class SlicedDataset(SliceableDataset):
    """A view of a :class:`SliceableDataset`: some of its examples, some of
    their values.

    Args:
        dataset (SliceableDataset): the data set viewed.
        indices (sequence of int): its examples in the view, in order.
        key_indices (tuple of int or int): positions in ``dataset.keys`` of
            the values kept; an int for examples that are a single value.
    """

    def __init__(self, dataset, indices, key_indices):
        self._dataset = dataset
        self._indices = indices
        self._key_indices = key_indices

    def __len__(self):
        return len(self._indices)

    @property
    def keys(self):
        names = as_tuple(self._dataset.keys)
        if isinstance(self._key_indices, tuple):
            return tuple(names[k] for k in self._key_indices)
        return names[self._key_indices]

    def get_example_by_keys(self, index, key_indices):
        kept = as_tuple(self._key_indices)
        return self._dataset.get_example_by_keys(
            self._indices[index], tuple(kept[k] for k in key_indices))

"""chainercv's ``parameterize``: a test class run once per parameter set,
the parameters set on the test case before its ``setUp`` runs."""

from chainer import testing


def parameterize(*params):
    """Class decorator: one copy of a ``unittest.TestCase`` per dict of
    ``params``, each with that dict's items as attributes.

    Unlike ``chainer.testing.parameterize``, which gives each copy its
    parameters as class attributes, the attributes are set on the instance
    just before ``setUp``, so ``setUp`` may read and override them (the
    behaviour chainercv's tests rely on).

    Args:
        params (dicts): the parameter sets.
    """
    def decorate(cls):
        set_up = cls.setUp

        def setUp(self):
            for key, value in params[self._parameter_index].items():
                setattr(self, key, value)
            set_up(self)

        cls.setUp = setUp
        return testing.parameterize(
            *[{'_parameter_index': i} for i in range(len(params))])(cls)
    return decorate

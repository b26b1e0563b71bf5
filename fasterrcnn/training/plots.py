"""Plots of a run (``loss.png``, ``map.png``) that survive a resume.

Chainer's :class:`~chainer.training.extensions.PlotReport` keeps three
things between its pictures: the points drawn so far, the summary of the
values reported since the last point, and the state of its own trigger
(which iteration it last saw). Its snapshot holds only the points, as a
JSON string, so a run resumed from a snapshot starts with an empty summary
and a trigger that believes it last ran at iteration 0: its first call
after the resume fires at once and draws a point the log does not have (a
kink at iteration 101 after a resume from ``snapshot_iter_100.npz``).

:class:`PlotReport` here is the same plot with all three in the snapshot,
as plain arrays that :mod:`fasterrcnn.safe_npz` reads, so a resumed run
draws exactly what the run left alone draws, and with a title and the
names of both axes on every picture.

Every trigger adds a point; the picture is written again only when
:data:`PICTURE_SECONDS` have passed since the last one, and once more when
the run ends (done, stopped by an error or Ctrl-C): a picture costs about
165 ms (matplotlib, 60 points of 5 lines), 10 s of the CPU demo's 6
minutes when it was drawn at each of its 60 triggers.
"""

import json
import numbers
import os
import sys
import time

import numpy
from chainer import serializer as serializer_module
from chainer.training import extensions

from fasterrcnn.atomic import atomic_write
from fasterrcnn.safe_npz import read_optional

#: The least wall-clock seconds between two pictures of one plot (the points
#: are added at every trigger whatever the pictures).
PICTURE_SECONDS = 15.


#: Bumped if the layout of the entries below changes; its presence tells a
#: snapshot of this class from one of Chainer's PlotReport.
STATE_FORMAT = 1


def _legacy_points(text, y_keys):
    """``{key: [(x, y), ...]}`` from the JSON string that Chainer's
    PlotReport saves (a snapshot written before this class), keeping only
    well-formed pairs of numbers (JSON writes floats with ``repr``, so they
    read back exactly); anything unexpected starts that series empty."""
    try:
        saved = json.loads(str(text))
    except ValueError:
        saved = {}
    if not isinstance(saved, dict):
        saved = {}
    data = {}
    for key in y_keys:
        points = saved.get(key)
        good = isinstance(points, list) and all(
            isinstance(p, list) and len(p) == 2 and all(
                isinstance(v, numbers.Real) and not isinstance(v, bool)
                for v in p)
            for p in points)
        data[key] = [tuple(p) for p in points] if good else []
    return data


class PlotReport(extensions.PlotReport):
    """Chainer's PlotReport with a title, axis names and a full snapshot.

    The snapshot entries (under the extension's name) are

    * ``format``: ``()`` int64, :data:`STATE_FORMAT`;
    * ``points/<y_key>/x``: ``(N,)`` the x values of the N points drawn
      (int64 for ``'iteration'`` or ``'epoch'``) and ``points/<y_key>/y``:
      ``(N,)`` float64 their values, for each of ``y_keys``;
    * ``summary/...``: the values reported since the last point (Chainer's
      :class:`~chainer.DictSummary` layout: a JSON list of the key names,
      and per key the sum, the sum of squares and the count as arrays);
    * ``trigger/...``: the trigger's state (the iteration it last saw).

    A snapshot without ``format`` (written by Chainer's PlotReport) still
    loads: the points come from its JSON string (or start empty), the
    summary starts empty, and the trigger guesses its last call from the
    iteration resumed at, so no extra point is drawn.

    Args:
        y_keys (sequence of str): the reported values to plot, one line each.
        x_key (str): the x value (``'iteration'`` or ``'epoch'``).
        trigger: when a point is added and the picture written.
        filename (str): the PNG, in the trainer's output directory.
        title (str): the picture's title.
        y_label (str): the name of the y axis (the quantity: ``'loss'``).
        x_label (str or None): the name of the x axis; None: ``x_key``.
        postprocess: called as ``postprocess(figure, axes, summary)`` after
            the title and names are set, as in Chainer's PlotReport.
        picture_seconds (float): the least seconds between two pictures
            (:data:`PICTURE_SECONDS`); 0 draws one at every trigger.
        **kwargs: the rest of Chainer's PlotReport's arguments (``marker``,
            ``grid``).
    """

    def __init__(self, y_keys, x_key='iteration', trigger=(1, 'epoch'),
                 filename='plot.png', title=None, y_label=None, x_label=None,
                 postprocess=None, picture_seconds=PICTURE_SECONDS, **kwargs):
        if isinstance(y_keys, str):
            y_keys = (y_keys,)
        self.picture_seconds = picture_seconds
        # time.monotonic() of the last picture, the directory it went to,
        # and whether points were added since.
        self._last_picture = None
        self._out = None
        self._stale = False
        self.title = title
        self.y_label = y_label
        self.x_label = x_label if x_label is not None else x_key
        self._user_postprocess = postprocess
        super(PlotReport, self).__init__(
            list(y_keys), x_key=x_key, trigger=trigger,
            postprocess=self._decorate, filename=filename, **kwargs)

    def _decorate(self, figure, axes, summary):
        if self.title:
            axes.set_title(self.title)
        axes.set_xlabel(self.x_label)
        if self.y_label:
            axes.set_ylabel(self.y_label)
        if self._user_postprocess is not None:
            self._user_postprocess(figure, axes, summary)

    def __call__(self, trainer):
        """Chainer's PlotReport's step: the observation into the summary,
        and at the trigger a point per key from the summary's means; the
        picture when it is due (the module's doc)."""
        if not self.available():
            return
        observation = trainer.observation
        self._summary.add({k: observation[k] for k in self._y_keys
                           if k in observation})
        if not (trainer.is_before_training or self._trigger(trainer)):
            return
        stats = {name: float(value) for name, value in
                 self._summary.compute_mean().items()}
        stats['epoch'] = trainer.updater.epoch
        stats['iteration'] = trainer.updater.iteration
        x = stats[self._x_key]
        for key in self._y_keys:
            if key in stats:
                self._data[key].append((x, stats[key]))
        self._init_summary()
        self._out = trainer.out
        self._stale = True
        if self._last_picture is None or \
                time.monotonic() - self._last_picture >= self.picture_seconds:
            self._draw()

    def finalize(self):
        """The last picture, when points were added since the one before
        (the Trainer calls this however its loop ends). A picture that
        cannot be written (a full disk) is a warning here, not an error
        that would hide the one that ended the run: its points are in the
        log and the snapshots."""
        if self._stale and self.available():
            try:
                self._draw()
            except OSError as e:
                sys.stderr.write('warning: the plot {} was not written: {}\n'
                                 .format(self._file_name, e))

    def _draw(self):
        # The object-oriented API (no pyplot): no global figure to leak
        # if a callback raises.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        figure = Figure()
        FigureCanvasAgg(figure)
        axes = figure.add_subplot(111)
        axes.set_xlabel(self._x_key)
        if self._grid:
            axes.grid()
        for key in self._y_keys:
            xy = self._data[key]
            if xy:
                xy = numpy.array(xy)
                axes.plot(xy[:, 0], xy[:, 1], marker=self._marker, label=key)
        if axes.has_data():
            self._postprocess(figure, axes, self._summary)
            legend = axes.legend(bbox_to_anchor=(1.05, 1), loc=2,
                                 borderaxespad=0.)
            # Whole or not at all: a picture cut short by Ctrl-C or a full
            # disk leaves the previous one.
            with atomic_write(os.path.join(self._out, self._file_name)) as f:
                figure.savefig(f, format='png', bbox_extra_artists=(legend,),
                               bbox_inches='tight')
        self._last_picture = time.monotonic()
        self._stale = False

    @property
    def points(self):
        """``{y_key: [(x, y), ...]}``: the points drawn so far (a copy)."""
        return {key: list(xy) for key, xy in self._data.items()}

    def serialize(self, serializer):
        if isinstance(serializer, serializer_module.Serializer):
            self._save(serializer)
        else:
            self._load(serializer)

    def _save(self, serializer):
        serializer('format', numpy.array(STATE_FORMAT, dtype=numpy.int64))
        points = serializer['points']
        for key in self._y_keys:
            xy = self._data[key]
            # numpy keeps ints as int64 and the Python floats (float64) as
            # they are: both read back exactly.
            xs = numpy.array([x for x, _ in xy])
            if not len(xs):
                xs = numpy.zeros(0, dtype=numpy.int64)
            points[key]('x', xs)
            points[key]('y', numpy.array([y for _, y in xy],
                                         dtype=numpy.float64))
        self._summary.serialize(serializer['summary'])
        if hasattr(self._trigger, 'serialize'):
            self._trigger.serialize(serializer['trigger'])

    def _load(self, serializer):
        if read_optional(serializer, 'format') is None:
            self._load_legacy(serializer)
            return
        points = serializer['points']
        data = {}
        for key in self._y_keys:
            xs = read_optional(points[key], 'x')
            ys = read_optional(points[key], 'y')
            if xs is None or ys is None or xs.shape != ys.shape:
                data[key] = []  # a key added since the snapshot
            else:
                # tolist: Python ints and floats, as a run left alone has.
                data[key] = list(zip(xs.tolist(), ys.tolist()))
        self._data = data
        self._init_summary()
        self._summary.serialize(serializer['summary'])
        if hasattr(self._trigger, 'serialize'):
            self._trigger.serialize(serializer['trigger'])

    def _load_legacy(self, serializer):
        text = read_optional(serializer, '_plot_{}'.format(self._file_name))
        self._data = _legacy_points('' if text is None else text,
                                    self._y_keys)
        self._init_summary()
        # Chainer's own trigger classes take a negative previous iteration
        # (and epoch) as "guess it from the iteration resumed at"; left at 0
        # they would fire at the first call after the resume.
        for name in ('_previous_iteration', '_previous_epoch_detail'):
            if hasattr(self._trigger, name):
                setattr(self._trigger, name, -1)

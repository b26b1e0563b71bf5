"""What ``fasterrcnn-train`` prints at the start of a run (the data summary
and the configuration's warnings) and at its end (where the model is and
the command that evaluates it)."""

import os
import shlex
import sys

from fasterrcnn.cli.common import sibling_command
from fasterrcnn.data.summary import summarize_data
from fasterrcnn.data.summary_coco import summarize_coco
from fasterrcnn.training.best_model import BEST_FILE
from fasterrcnn.training.builder import write_model
from fasterrcnn.training.schedule import schedule_warnings

PROG = 'fasterrcnn-train'


def report_start(config):
    """Prints the data summary and a warning line for each part of the
    configuration that will not do what it seems to (the VOC names assumed,
    a schedule past the last iteration)."""
    summarize = summarize_coco if config.data.format == 'coco' else \
        summarize_data
    lines, warnings = summarize(config)
    print('\n'.join(lines), flush=True)
    for line in warnings + schedule_warnings(config):
        print('warning: {}'.format(line), file=sys.stderr, flush=True)


def eval_hint(config, out, prog=PROG, verb='written to'):
    """The closing line: where the model (and the best model) is and how
    to evaluate it, with the evaluation command in the form this command
    (``prog``) was started in
    (:func:`~fasterrcnn.cli.common.sibling_command`)."""
    eval_command = sibling_command('fasterrcnn-eval', 'eval.py',
                                   'fasterrcnn.cli.evaluate', prog)
    model = os.path.join(out, 'model.npz')
    if config.data.format != 'voc':
        # The format and the annotation files come from the run's config.
        data = '--config {}'.format(shlex.quote(os.path.join(
            out, 'config.yaml')))
    else:
        data = '--data {}'.format(shlex.quote(config.data.dir))
        if config.data.test_split != 'test':
            data += ' --split {}'.format(shlex.quote(config.data.test_split))
    line = 'model {} {}; evaluate it with: {} --model {} {}'.format(
        verb, model, eval_command, shlex.quote(model), data)
    best = os.path.join(out, BEST_FILE)
    if os.path.isfile(best):
        line += '; the best of the evaluations is {} (--model {})'.format(
            best, shlex.quote(best))
    return line


def finished(trainer, config, out, writer, prog=PROG):
    """A run resumed at its end: nothing to train; ``model.npz`` written
    if the run stopped between its last snapshot and it."""
    if not writer:
        return 0
    iteration = trainer.updater.iteration
    model = os.path.join(out, 'model.npz')
    verb = 'is at'
    if not os.path.isfile(model):
        write_model(trainer)
        verb = 'written to'
    print('the run in {} finished at iteration {}: nothing to train (to '
          'train on, --resume auto --iterations N with N > {})'.format(
              out, iteration, iteration), flush=True)
    print(eval_hint(config, out, prog, verb=verb), flush=True)
    return 0

"""What every command line shares: flags, GPU selection, the error path.

A mistake in the input (a missing or refused file, an invalid config, a GPU
that is not there, a bad example) is a :class:`UserError` or one of the
project's own error types; :func:`run_command` prints it as one line,
``PROG: error: MESSAGE``, with no traceback, and returns exit status 2. A
run stopped by a fault (:class:`RunFault`: a non-finite loss, a full disk)
is one line too, with exit status 3.
"""

import argparse
import os
import shlex
import shutil
import sys

from fasterrcnn.backend import gpu_available
from fasterrcnn.config import ConfigError
from fasterrcnn.data.bad_examples import BadExampleError, one_line
from fasterrcnn.safe_npz import BadFileError
from fasterrcnn.training.run_folder import RunFolderError
from fasterrcnn.weights.model_io import load_model

#: The names of chainercv's trained models that ``--model`` takes (the
#: keys of :data:`fasterrcnn.chainercv.trained.TRAINED_MODELS`, which is
#: imported only when one is used: predicting with a model file loads
#: neither the drop-in nor the evaluation it brings).
TRAINED_NAMES = ('voc07', 'voc0712')

#: What ``--model`` takes, for the help of the commands.
MODEL_HELP = ('a model file written by fasterrcnn-train (model.npz, '
              'best.npz), or one of chainercv\'s trained models, fetched on '
              'first use: {}'.format(', '.join(TRAINED_NAMES)))

#: Exit status of a mistake in the input (argparse's own for usage errors).
EXIT_USER_ERROR = 2
#: Exit status of a run stopped by a fault (NaN loss, full disk).
EXIT_FAULT = 3
#: Exit status after Ctrl-C (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A mistake in the input: reported in one line, exit status 2."""


class RunFault(Exception):
    """A run stopped by a fault that is not the input's (a non-finite loss,
    a full disk): reported in one line, exit status 3."""


#: Errors that name the file or key at fault and need no traceback.
USER_ERRORS = (UserError, ConfigError, BadFileError, FileNotFoundError,
               BadExampleError, RunFolderError)


def positive_int(text):
    """argparse type: an int >= 1, or a usage error saying what it got."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            'expected a positive integer, got {!r}'.format(text)) from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            'expected a positive integer, got {}'.format(value))
    return value


def add_config_flags(parser):
    """``--config CFG`` and repeatable ``--set KEY=VALUE``."""
    parser.add_argument('--config', metavar='CFG',
                        help='YAML configuration file (see --help-config '
                             'of fasterrcnn-train for every key)')
    parser.add_argument('--set', action='append', default=[],
                        metavar='KEY=VALUE',
                        help='override a config key (YAML value), e.g. '
                             '--set train.lr=0.01; may be repeated')


def add_device_flags(parser):
    """``--gpu N`` and ``--no-progress``."""
    parser.add_argument('--gpu', type=int, default=-1, metavar='N',
                        help='CUDA device to run on (default: -1, the CPU)')
    parser.add_argument('--no-progress', action='store_true',
                        help='no progress bar (the log lines remain)')


def select_gpu(gpu):
    """Makes GPU ``gpu`` current, or a UserError saying why it cannot be.

    Args:
        gpu (int): the device id; a negative id means the CPU (no-op).
    """
    if gpu < 0:
        return
    if not gpu_available():
        raise UserError('--gpu {}: no usable CUDA device (CuPy is missing '
                        'or sees no GPU; pip install ".[gpu]" on a CUDA '
                        'machine); leave out --gpu to run on the CPU'
                        .format(gpu))
    import chainer
    import cupy
    count = cupy.cuda.runtime.getDeviceCount()
    if gpu >= count:
        raise UserError('--gpu {}: there {} only {} CUDA device{} (0 to {})'
                        .format(gpu, 'is' if count == 1 else 'are', count,
                                '' if count == 1 else 's', count - 1))
    chainer.backends.cuda.get_device_from_id(gpu).use()


def is_trained_name(path):
    """Whether ``--model path`` names one of chainercv's trained models: a
    name of :data:`TRAINED_NAMES` where no file or folder of that name
    exists."""
    return path in TRAINED_NAMES and not os.path.exists(path)


def model_source(path):
    """What ``--model path`` is, for a record: the trained model's name,
    or the model file's absolute path."""
    return path if is_trained_name(path) else os.path.abspath(path)


def load_model_for_inference(path, preset, gpu=-1):
    """A model file's model, ready to predict: thresholds of ``preset``, on
    GPU ``gpu`` (made current) or the CPU.

    The file is read as data only: nothing in a model file runs
    (:class:`~fasterrcnn.safe_npz.BadFileError` otherwise).

    Args:
        path (str): a model file written by ``train_chainer.py`` (see
            :mod:`fasterrcnn.weights.model_io`), or the name of one of
            chainercv's trained models (``voc07``, ``voc0712``; see
            :mod:`fasterrcnn.chainercv.trained`) where no file of that name
            exists.
        preset (str): a name in
            :data:`fasterrcnn.links.faster_rcnn.PRESETS`.
        gpu (int): the CUDA device; negative: the CPU.

    Returns:
        tuple: the model and its class names (None when the file has none).
    """
    if is_trained_name(path):
        from fasterrcnn.chainercv.trained import load_trained
        model, label_names = load_trained(path)
    else:
        model, label_names = load_model(path)
    model.use_preset(preset)
    if gpu >= 0:
        select_gpu(gpu)
        model.to_gpu()
    return model, label_names


#: The one-line text of an error (the data readers' own).
error_message = one_line


def sibling_command(installed, script, module, prog):
    """How to run another of the project's commands, in the form the
    running one was started in, so that a hint can be pasted as it is.

    Args:
        installed (str): its installed name (``fasterrcnn-eval``).
        script (str): its script beside ``train_chainer.py`` (``eval.py``).
        module (str): its module (``fasterrcnn.cli.evaluate``).
        prog (str): the running command's name (``fasterrcnn-train`` or
            ``train_chainer.py``).

    Returns:
        str: ``PYTHON -m MODULE`` when this process was started with ``-m``;
        ``PYTHON eval.py`` (this interpreter, the script's folder) from the
        script; ``fasterrcnn-eval`` (or its full path where the installed
        commands' folder is not on PATH) from the installed command. Called
        from other code (a test, a notebook): ``python eval.py`` for a
        script's name, else the installed name.
    """
    argv0 = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ''
    python = shlex.quote(_short(sys.executable))
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if argv0.endswith('.py') and argv0.startswith(package + os.sep):
        return '{} -m {}'.format(python, module)
    if os.path.basename(argv0) == prog and prog.endswith('.py'):
        return '{} {}'.format(python, shlex.quote(_short(os.path.join(
            os.path.dirname(argv0), script), dot=False)))
    if os.path.basename(argv0) == prog:
        beside = os.path.join(os.path.dirname(argv0), installed)
        found = shutil.which(installed)
        if not os.path.isfile(beside) or (found and os.path.realpath(
                found) == os.path.realpath(beside)):
            return installed
        return shlex.quote(_short(beside))
    return 'python ' + script if prog.endswith('.py') else installed


def _short(path, dot=True):
    """``path`` relative to the working directory when it is inside it
    (``./NAME`` for a program there, with ``dot``)."""
    relative = os.path.relpath(path)
    if relative.startswith(os.pardir):
        return path
    if dot and os.sep not in relative:
        return os.path.join(os.curdir, relative)
    return relative


def run_command(prog, parser, run, argv=None):
    """Parses ``argv`` and calls ``run(args)``; returns the exit status.

    Args:
        prog (str): the command's name, for messages.
        parser (argparse.ArgumentParser): the command's parser.
        run (callable): takes the parsed arguments, returns the status.
        argv (list of str or None): the arguments (``sys.argv[1:]``).
    """
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else EXIT_USER_ERROR
    try:
        return run(args)
    except KeyboardInterrupt:
        # Ctrl-C anywhere a command has no stop of its own (start-up,
        # evaluation, predict): one line, no traceback; what was written is
        # complete (every output is written atomically).
        print('{}: interrupted'.format(prog), file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except USER_ERRORS as e:
        print('{}: error: {}'.format(prog, error_message(e)),
              file=sys.stderr)
        return EXIT_USER_ERROR
    except RunFault as e:
        print('{}: error: {}'.format(prog, error_message(e)),
              file=sys.stderr)
        return EXIT_FAULT

"""Write a file so that a crash never leaves it half-written."""

import contextlib
import json
import os
import traceback
import uuid


def fsync_dir(path):
    """Make a rename in directory ``path`` durable (no-op where unsupported).
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path, binary=True):
    """Open a temporary file beside ``path``; on success it becomes ``path``.

    The temporary file (``.<name>.<pid>.<random>.tmp``, unique, so two
    writers never share one) is flushed and fsync'ed, then renamed over
    ``path`` with :func:`os.replace`, and the rename made durable. On any
    error the temporary file is removed and the error raised: ``path`` is
    either the old file or the complete new one.

    Args:
        path (str): the file to write.
        binary (bool): open in ``'wb'`` (else ``'w'``, UTF-8 text).

    Yields:
        file: the open temporary file.
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp_path = os.path.join(directory, '.{}.{}.{}.tmp'.format(
        os.path.basename(path), os.getpid(), uuid.uuid4().hex[:8]))
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, 'wb' if binary else 'w',
                       **({} if binary else {'encoding': 'utf-8'})) as f:
            try:
                yield f
            except BaseException as e:
                # A writer stopped half way (a second Ctrl-C in numpy's
                # savez) leaves its ZipFile open in the traceback's frames:
                # let it close now, on the file still open, rather than in
                # its __del__ on a closed one (a stray traceback).
                traceback.clear_frames(e.__traceback__)
                raise
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException as e:
        try:
            os.remove(tmp_path)
        except OSError:
            pass
        if isinstance(e, OSError) and e.errno is not None and \
                e.filename is None:
            # A failed write (a full disk) does not say which file.
            e.filename = path
        raise
    fsync_dir(directory)


def write_json(path, data):
    """Write ``data`` as indented JSON so that ``path`` is never left
    half-written (see :func:`atomic_write`).

    Args:
        path (str): the file to write.
        data: plain JSON data (dicts, lists, str, int, float, bool, None).

    Raises:
        ValueError: ``data`` holds a NaN or an infinity: JSON has no such
            number, so a caller writes ``None`` for an undefined value.
    """
    with atomic_write(path, binary=False) as f:
        json.dump(data, f, indent=2, allow_nan=False)
        f.write('\n')

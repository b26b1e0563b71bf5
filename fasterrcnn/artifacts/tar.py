"""Unpacking a tar so that nothing lands outside its folder.

Every member is checked before anything is written: no absolute name, no
``..`` part, no link whose target leaves the folder, nothing but files,
folders and such links (no devices, no FIFOs). A tar that breaks a rule is
refused with one line naming the member, and nothing of it is written.
"""

import os
import posixpath
import tarfile


class UnsafeArchiveError(ValueError):
    """A member of an archive would be written outside its folder."""


def check_members(archive, path):
    """Raise :class:`UnsafeArchiveError` for the first unsafe member.

    Args:
        archive (tarfile.TarFile): the open archive.
        path (str): its file, for the message.
    """
    for member in archive.getmembers():
        name = member.name
        if name.startswith('/') or os.path.isabs(name):
            _refuse(path, name, 'an absolute name')
        if '..' in name.replace('\\', '/').split('/'):
            _refuse(path, name, 'a ".." part')
        if member.issym() or member.islnk():
            target = member.linkname
            if member.issym():
                target = posixpath.join(posixpath.dirname(name), target)
            if target.startswith('/') or posixpath.normpath(
                    target).split('/')[0] == '..':
                _refuse(path, name, 'a link to {} outside the folder'.format(
                    member.linkname))
        elif not (member.isfile() or member.isdir()):
            _refuse(path, name, 'neither a file, a folder nor a link')


def _refuse(path, name, what):
    raise UnsafeArchiveError(
        '{}: member {!r} has {}: the archive was not unpacked'.format(
            path, name, what))


def extract_tar(path, folder):
    """Unpack the tar ``path`` into ``folder`` (made if missing), after
    :func:`check_members`."""
    with tarfile.open(path) as archive:
        check_members(archive, path)
        os.makedirs(folder, exist_ok=True)
        # The checks above are the rules; Python's 'data' filter, where it
        # exists, applies them again (and drops modes a data set needs not).
        if hasattr(tarfile, 'data_filter'):
            archive.extractall(folder, filter='data')
        else:
            archive.extractall(folder)

"""Writes the .pth fixtures of tests/weights/test_pth_format.py, as torch
writes them, in both of its formats:

- ``trainer_zip.pth``: ``torch.save`` (the zip format, torch >= 1.6);
- ``trainer_legacy.pth``: ``torch.save(...,
  _use_new_zipfile_serialization=False)`` (the format of torchvision's
  and the caffe VGG16 files).

Each holds what the PyTorch version's ``trainer.save`` writes (``model``,
``config``, ``other_info`` with NumPy scalars, ``vis_info``) plus a list
of parameters; ``model`` holds every storage type the reader reads,
views of one storage (a transpose, a slice at an offset, a strided
slice), an empty and a 0-d tensor. The test computes the same values
with NumPy (``expected_model``). Run it from the repository root with
torch installed:

    SETUPTOOLS_USE_DISTUTILS=stdlib .venv-torch/bin/python \\
        tests/data/pth/make_fixtures.py
"""

import os

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))


def model(torch):
    """A state_dict: a real module's (an ``OrderedDict`` with torch's
    ``_metadata``) and more tensors."""
    linear = torch.nn.Linear(3, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.arange(6, dtype=torch.float32)
                            .reshape(2, 3))
        linear.bias.copy_(torch.tensor([0.5, -0.5]))
    state = linear.state_dict()
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    state['base'] = base
    state['transposed'] = base.t()  # same storage, not contiguous
    state['slice'] = base.view(-1)[5:9]  # same storage, offset 5
    state['every_other'] = base[1:, ::2]  # offset 4, strides (4, 2)
    state['f64'] = torch.arange(6, dtype=torch.float64).reshape(2, 3) / 8
    state['f16'] = torch.tensor([0.5, -2.0, 65504.0], dtype=torch.float16)
    state['i64'] = torch.arange(-3, 3, dtype=torch.int64) * 2 ** 40
    state['i32'] = torch.tensor([-2 ** 31, 0, 2 ** 31 - 1],
                                dtype=torch.int32)
    state['i16'] = torch.tensor([-2 ** 15, 1, 2 ** 15 - 1],
                                dtype=torch.int16)
    state['i8'] = torch.tensor([-128, 0, 127], dtype=torch.int8)
    state['u8'] = torch.arange(250, 256, dtype=torch.uint8)
    state['bool'] = torch.tensor([True, False, True])
    state['empty'] = torch.zeros(0, 3)
    state['scalar'] = torch.tensor(7.25, dtype=torch.float64)
    return state


def checkpoint(torch):
    return {'model': model(torch),
            'config': {'lr': 1e-3, 'env': 'faster-rcnn',
                       'caffe_pretrain': False, 'scales': (600, 1000),
                       'use_adam': None},
            'other_info': {'best_map': numpy.float64(0.5),
                           'epoch': numpy.int64(13)},
            'vis_info': {'env': 'faster-rcnn', 'log_text': ''},
            'params': [torch.nn.Parameter(torch.arange(3.0))]}


def main():
    import torch
    torch.save(checkpoint(torch), os.path.join(HERE, 'trainer_zip.pth'))
    torch.save(checkpoint(torch), os.path.join(HERE, 'trainer_legacy.pth'),
               _use_new_zipfile_serialization=False)


if __name__ == '__main__':
    main()

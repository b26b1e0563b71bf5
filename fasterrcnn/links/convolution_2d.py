"""The convolution link the model's layers use."""

import chainer

from fasterrcnn.functions.convolution import convolution_2d, supported


class Convolution2D(chainer.links.Convolution2D):
    """``chainer.links.Convolution2D`` (same arguments, same parameters
    ``W`` and ``b``, so the same saved names) computing with
    :func:`fasterrcnn.functions.convolution.convolution_2d`: the tiled
    NumPy convolution on the CPU, Chainer's own (cuDNN) on the GPU."""

    def forward(self, x):
        x = chainer.as_variable(x)
        if self.W.raw_array is None:
            self._initialize_params(x.shape[1])
        if self.x_layout is not None or not supported(
                x, self.W, self.stride, self.pad, False, self.dilate,
                self.groups):
            return super(Convolution2D, self).forward(x)
        return convolution_2d(x, self.W, self.b, self.stride, self.pad)

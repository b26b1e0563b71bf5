"""The convolution link the model's layers use."""

import chainer
import chainer.functions as F

from fasterrcnn.functions.convolution import convolution_2d, supported


class Convolution2D(chainer.links.Convolution2D):
    """``chainer.links.Convolution2D`` (same arguments, same parameters
    ``W`` and ``b``, so the same saved names) computing with
    :func:`fasterrcnn.functions.convolution.convolution_2d`: the tiled
    NumPy convolution on the CPU, Chainer's own (cuDNN) on the GPU."""

    def forward(self, x, relu=False):
        """The convolution of ``x`` ``(N, C, H, W)``; with ``relu``,
        ``F.relu`` of it (computed in the same node on the tiled path)."""
        x = chainer.as_variable(x)
        if self.W.raw_array is None:
            self._initialize_params(x.shape[1])
        if self.x_layout is not None or not supported(
                x, self.W, self.stride, self.pad, False, self.dilate,
                self.groups):
            y = super(Convolution2D, self).forward(x)
            return F.relu(y) if relu else y
        return convolution_2d(x, self.W, self.b, self.stride, self.pad,
                              relu=relu)

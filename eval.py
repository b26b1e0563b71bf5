"""VOC07 mAP of a trained Faster R-CNN model (not written yet)."""

import sys

if __name__ == '__main__':
    print('eval.py: evaluation is not implemented yet.', file=sys.stderr)
    sys.exit(1)

from fasterrcnn.functions.roi_align import roi_align_2d  # NOQA

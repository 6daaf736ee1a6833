"""User image data: folders of images, zip archives, single uploaded images and MNIST-format IDX files.

Every loader enforces limits (image count, total bytes, pixels per image) and turns any problem into a
`DataError` with a one-line message that names the file. Zip archives are read in memory, never
extracted: entries with absolute or '..' paths are refused, as are zip bombs (declared total size over
the limit, a compression ratio over `MAX_RATIO`, or more bytes read than declared or allowed). Image
headers are checked against the pixel limit before any pixel data is decoded. Images are resized so the
shorter side is `size`, centre-cropped to a square, converted to grey ('L') or RGB and scaled to [-1, 1].
Folders and zips: images may sit at the top or in subfolders up to 2 levels deep; when every image lies
in a subfolder, the first subfolder name is its class label (a single wrapping folder is ignored).

The loaders live in `image_files` (limits, `DataError`, one image), `image_archives` (folders and zips)
and `idx_files` (IDX); this module gathers their public names.
"""

from .idx_files import load_idx
from .image_archives import load_image_folder, load_image_zip
from .image_files import (FORMATS, IMAGE_EXTS, MAX_DEPTH, MAX_FILE_BYTES, MAX_IMAGES, MAX_PIXELS, MAX_RATIO,
                          MAX_TOTAL_BYTES, MAX_UPLOAD_PIXELS, DataError, check_pixel_budget, header_pixels,
                          load_image_file)

__all__ = ["FORMATS", "IMAGE_EXTS", "MAX_DEPTH", "MAX_FILE_BYTES", "MAX_IMAGES", "MAX_PIXELS", "MAX_RATIO",
           "MAX_TOTAL_BYTES", "MAX_UPLOAD_PIXELS", "DataError", "check_pixel_budget", "header_pixels", "load_idx", "load_image_file", "load_image_folder",
           "load_image_zip"]

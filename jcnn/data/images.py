"""What every image reader catches: the errors Pillow raises for a file it cannot or will
not decode. Truncated or not an image: OSError, ValueError, SyntaxError. A decompression
bomb (a small file declaring more than twice `PIL.Image.MAX_IMAGE_PIXELS` pixels, ~179 M):
`Image.DecompressionBombError`, which is none of those."""
from PIL import Image

UNREADABLE = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)
